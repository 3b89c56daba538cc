"""End to end: `driftguard demo` as a user runs it, in a fresh process and a fresh home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "driftguard.cli"]


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900
    )


def test_demo_runs_the_pipeline_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTGUARD_", "PREFECT_"))}
    env.update(
        DRIFTGUARD_HOME=str(tmp_path / "home"),
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    demo = run_cli("demo", "--fresh", env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    for model in ("credit-risk", "churn", "fraud"):
        assert model in demo.stdout
    env["DRIFTGUARD_PII_KEY"] = "not-needed-for-status"
    status = run_cli("status", "--json", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    rows = {m["model_id"]: m for m in json.loads(status.stdout)["models"]}
    assert set(rows) == {"credit-risk", "churn", "fraud"}
    assert all(m["rows"] > 10_000 and m["quarantined"] == 0 for m in rows.values())
    runs = json.loads(run_cli("runs", "--monitoring", "--json", env=env, cwd=tmp_path).stdout)
    assert {r["model_id"] for r in runs} == {"credit-risk", "churn", "fraud"}
    history = json.loads(run_cli("runs", "--json", env=env, cwd=tmp_path).stdout)
    (fleet,) = history["runs"]
    assert (fleet["flow"], fleet["status"], fleet["orchestrator"]) == (
        "monitor-fleet",
        "completed",
        "prefect",
    )
    assert len(fleet["run_ids"]) == 3 and history["stats"]["success_rate"] == 1.0
    # the fraud model drifts strongly and trips its kill switch (example config rule psi-spike)
    switches = json.loads((tmp_path / "home" / "killswitch.json").read_text())["switches"]
    assert [s["target"]["model_id"] for s in switches] == ["fraud"]
    assert "kill switch: rule psi-spike" in demo.stdout
    assert "metrics textfile" in demo.stdout and (tmp_path / "home" / "metrics").is_dir()
