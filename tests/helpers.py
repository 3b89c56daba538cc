"""Builders shared by tests: small configurations, workspaces and log files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from driftguard.workspace import Workspace

PII_KEY = "test-pii-key-0123456789"


def model_dict(model_id: str = "credit", **overrides: Any) -> dict[str, Any]:
    """A small binary-classification model whose files land under {home}/landing/<id>/."""
    model = {
        "id": model_id,
        "version": "1.0",
        "owner": "olivia",
        "purpose": "Score loan applications.",
        "model_type": "credit-scoring",
        "columns": {"prediction_id": "prediction_id", "timestamp": "ts", "score": "score"},
        "features": {
            "income": {"kind": "numeric", "min": 0},
            "age": {"kind": "numeric", "min": 18, "max": 100},
            "region": {"kind": "categorical", "categories": ["north", "south", "east"]},
        },
        "protected_attributes": [
            {"name": "sex", "reference_group": "male", "groups": ["female", "male"]}
        ],
        "sources": {
            "predictions": [{"path": f"{{home}}/landing/{model_id}/predictions/**/*.parquet"}],
            "labels": [{"path": f"{{home}}/landing/{model_id}/labels/**/*.csv"}],
        },
        "simulation": {"days": 4, "shift_days": 2, "rows_per_day": 120, "seed": 3},
    }
    model.update(overrides)
    return model


def write_config(path: Path, models: list[dict[str, Any]], **top: Any) -> Path:
    data = {"version": 1, "roles": {"admin": ["alice"]}, "models": models, **top}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def make_workspace(tmp_path: Path, monkeypatch: Any, models: list[dict] | None = None) -> Workspace:
    home = tmp_path / "home"
    config = write_config(
        tmp_path / "driftguard.yaml", models or [model_dict("credit"), model_dict("churn")]
    )
    monkeypatch.setenv("DRIFTGUARD_HOME", str(home))
    monkeypatch.setenv("DRIFTGUARD_CONFIG", str(config))
    monkeypatch.setenv("DRIFTGUARD_PII_KEY", PII_KEY)
    return Workspace.load(config)


def good_row(i: int, **overrides: Any) -> dict[str, Any]:
    """A valid prediction row for :func:`model_dict` models."""
    row = {
        "prediction_id": f"p{i}",
        "ts": f"2026-01-0{1 + i % 5}T10:00:00Z",
        "score": 0.25,
        "income": 1000.0 + i,
        "age": 40.0,
        "region": "north",
        "sex": "female" if i % 2 else "male",
    }
    row.update(overrides)
    return row


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as Parquet, CSV or JSON lines according to the file extension."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    return path


def landing(ws: Workspace, model_id: str, kind: str = "predictions") -> Path:
    return ws.settings.home / "landing" / model_id / kind


LAKE_VARIABLES = (
    "DRIFTGUARD_CATALOG",
    "DRIFTGUARD_DATA_PATH",
    "DRIFTGUARD_METADATA_SCHEMA",
    "DRIFTGUARD_S3_KEY_ID",
    "DRIFTGUARD_S3_SECRET",
    "DRIFTGUARD_S3_REGION",
    "DRIFTGUARD_S3_ENDPOINT",
    "DRIFTGUARD_S3_URL_STYLE",
    "DRIFTGUARD_S3_USE_SSL",
)


def lake_env() -> dict[str, str]:
    """The lake location variables in force (set by ``--lake postgres[+s3]``), for tests that
    build their settings from an explicit environment."""
    import os

    return {name: os.environ[name] for name in LAKE_VARIABLES if name in os.environ}


def comparable_summary(summary: dict[str, Any]) -> Any:
    """A run summary reduced to what two runs of the same window must share: without the risk
    trend (the second run sees the first in its history), and with floats to 12 significant
    digits (DuckDB's parallel ``avg`` over doubles may differ in the last bits between runs)."""
    risk = {
        k: v for k, v in summary["risk"].items() if k not in {"history", "trend", "trend_change"}
    }
    return _rounded({**summary, "risk": risk})


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value
