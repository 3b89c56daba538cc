"""Seeded synthetic prediction logs for demos and tests.

A baseline period is followed by a shifted period in which chosen features drift (numeric
features move their mean by ``k`` reference standard deviations; categorical features move a
share of rows to their rarest category). A disparity penalises one group of a protected
attribute in the model's score but not in the ground truth, so the model is measurably unfair
to it. Labels arrive with an exponential delay; only those that have arrived by ``now`` are
written. Files land in the model's configured landing folders exactly as production logs would,
and appear atomically: they are written into a hidden folder and renamed into place.
"""

from __future__ import annotations

import glob as globlib
import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from driftguard.config import FileSource, ModelConfig, Settings, SimulationSpec, align_down
from driftguard.errors import DataError
from driftguard.sources import detect_format, discover
from driftguard.sql import model_table
from driftguard.store import Lake

_LOGNORMAL_HINTS = ("income", "amount", "balance", "value", "spend", "revenue", "price", "limit")


class SimulationRefused(DataError):
    """Simulation would mix synthetic rows into a model that already has logs."""


#: Checks that may refuse a simulation (the governance layer adds the lifecycle guard).
GUARDS: list = []


@dataclass
class SimulationResult:
    model_id: str
    rows: int
    labels: int
    files: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    shift_start: datetime | None = None


def _stable_seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def landing_folder(source: FileSource, settings: Settings, base: Path | None) -> Path:
    """The fixed folder part of a source glob: where new files for it should be written."""
    pattern = settings.expand(source.path, base=base)
    fixed = []
    for part in Path(pattern).parts[:-1]:
        if globlib.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def generate(
    model: ModelConfig, spec: SimulationSpec, now: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic predictions and the labels that have arrived by ``now``."""
    rng = np.random.default_rng(_stable_seed(spec.seed, model.id))
    end = align_down(now, timedelta(hours=1))
    start = end - timedelta(days=spec.days)
    shift_start = end - timedelta(days=spec.shift_days)
    per_day = rng.poisson(spec.rows_per_day, size=spec.days).clip(min=1)
    n = int(per_day.sum())
    day_index = np.repeat(np.arange(spec.days), per_day)
    seconds = day_index * 86400 + rng.integers(0, 86400, size=n)
    seconds.sort()
    ts = pd.to_datetime(start) + pd.to_timedelta(seconds, unit="s")
    shifted = np.asarray(ts >= pd.Timestamp(shift_start))

    data: dict[str, object] = {}
    logit = np.full(n, -1.2)
    for name, feature in model.features.items():
        frng = np.random.default_rng(_stable_seed(spec.seed, model.id, name))
        effect = frng.uniform(-0.8, 0.8)
        if feature.kind == "numeric":
            values, z = _numeric(frng, name, feature.min, feature.max, n)
            k = spec.drift.get(name, 0.0)
            if k:
                values = values + shifted * k * values[~shifted].std()
                if feature.min is not None or feature.max is not None:
                    values = np.clip(values, feature.min, feature.max)
                z = (values - values[~shifted].mean()) / (values[~shifted].std() or 1.0)
            logit += effect * np.clip(z, -3, 3)
            values = np.round(values, 2).astype(float)
            values[frng.random(n) < 0.01] = np.nan  # a little missingness, as in real logs
            data[name] = values
        else:
            categories = feature.categories or [f"{name[:3]}_{c}" for c in "abcd"]
            weights = frng.dirichlet(np.full(len(categories), 3.0))
            idx = frng.choice(len(categories), size=n, p=weights)
            share = spec.drift.get(name, 0.0)
            if share:
                moved = shifted & (frng.random(n) < share)
                idx[moved] = int(np.argmin(weights))
            cat_effects = frng.uniform(-0.6, 0.6, size=len(categories))
            logit += cat_effects[idx]
            data[name] = np.asarray(categories, dtype=object)[idx]
    penalty = np.zeros(n)
    for attribute in model.protected_attributes:
        arng = np.random.default_rng(_stable_seed(spec.seed, model.id, attribute.name))
        groups = attribute.groups or [f"{attribute.name}_{g}" for g in ("a", "b")]
        weights = arng.dirichlet(np.full(len(groups), 8.0))
        idx = arng.choice(len(groups), size=n, p=weights)
        data[attribute.name] = np.asarray(groups, dtype=object)[idx]
        delta = spec.disparity.get(attribute.name, 0.0)
        if delta:
            reference = attribute.reference_group or groups[int(np.argmax(weights))]
            disadvantaged = next(g for g in reversed(groups) if g != reference)
            penalty += np.where(data[attribute.name] == disadvantaged, delta, 0.0)
    for lake_name, column in model.context_columns.items():
        crng = np.random.default_rng(_stable_seed(spec.seed, model.id, lake_name))
        values = {
            "region": ["eu-west", "eu-north", "us-east", "ap-south"],
            "endpoint": ["api-v1", "api-v2", "batch"],
            "segment": ["retail", "small-business", "premium"],
        }[lake_name]
        data[column] = np.asarray(values, dtype=object)[crng.integers(0, len(values), size=n)]
    noise = rng.normal(0, 0.3, size=n)
    true_prob = 1 / (1 + np.exp(-(logit + noise)))
    # the model's score: truth plus the unfair penalty (higher score = predicted positive)
    model_logit = logit + noise + penalty + rng.normal(0, 0.35, size=n)
    cols = model.columns
    pids = [f"{model.id}-{spec.seed}-{i:08d}" for i in range(n)]
    frame = pd.DataFrame({cols.prediction_id: pids, cols.timestamp: ts})
    if model.task == "binary_classification":
        score = 1 / (1 + np.exp(-model_logit))
        truth = (rng.random(n) < true_prob).astype(int)
    else:
        score = 100 + 25 * model_logit
        truth = 100 + 25 * (logit + noise) + rng.normal(0, 5, size=n)
    if cols.score:
        frame[cols.score] = np.round(score, 6)
    if cols.predicted_class:
        frame[cols.predicted_class] = (score >= model.decision_threshold).astype(int)
    for name, values in data.items():
        frame[name] = values
    for name in model.personal_data:
        if name not in frame:
            frame[name] = [f"cust-{rng.integers(0, n * 3):09d}" for _ in range(n)]
    delay = rng.exponential(spec.label_delay_hours * 3600, size=n)
    labelled_at = ts + pd.to_timedelta(delay, unit="s")
    arrived = (rng.random(n) < spec.label_rate) & np.asarray(labelled_at <= pd.Timestamp(now))
    lcols = model.label_columns
    labels = pd.DataFrame(
        {
            lcols.prediction_id: np.asarray(pids, dtype=object)[arrived],
            lcols.label: truth[arrived],
            lcols.labelled_at: labelled_at[arrived],
        }
    )
    return frame, labels


def _numeric(
    rng: np.random.Generator, name: str, low: float | None, high: float | None, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Plausible values for a numeric feature and their standard scores."""
    if low is not None and high is not None:
        a, b = rng.uniform(1.5, 5), rng.uniform(1.5, 5)
        values = low + (high - low) * rng.beta(a, b, size=n)
    elif any(hint in name.lower() for hint in _LOGNORMAL_HINTS):
        values = np.exp(rng.normal(rng.uniform(8, 11), rng.uniform(0.3, 0.7), size=n))
    else:
        values = rng.normal(rng.uniform(0, 100), rng.uniform(2, 20), size=n)
        if low is not None:
            values = np.maximum(values, low)
        if high is not None:
            values = np.minimum(values, high)
    z = (values - values.mean()) / (values.std() or 1.0)
    return values, z


def _write(frame: pd.DataFrame, path: Path) -> None:
    fmt = detect_format(path)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "csv":
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    else:
        frame.to_json(path, orient="records", lines=True, date_format="iso", date_unit="us")


def _file_name(source: FileSource, stem: str) -> str:
    suffix = Path(source.path).suffix if not globlib.has_magic(Path(source.path).suffix) else ""
    if not suffix or suffix == ".*":
        suffix = ".parquet"
    return stem + suffix


def _publish(staging: Path, final: Path, recursive: bool) -> list[str]:
    """Move staged files into view: one folder rename (atomic) when the source glob recurses
    (``**``), else one rename per file, each atomic on its own."""
    if recursive:
        os.replace(staging, final)
        return sorted(str(p) for p in final.iterdir())
    published = []
    for path in sorted(staging.iterdir()):
        target = staging.parent / f"{final.name}-{path.name}"
        os.replace(path, target)
        published.append(str(target))
    staging.rmdir()
    return published


def simulate_model(
    model: ModelConfig,
    settings: Settings,
    *,
    lake: Lake | None = None,
    spec: SimulationSpec | None = None,
    base: Path | None = None,
    now: datetime | None = None,
) -> SimulationResult:
    """Write synthetic logs for ``model`` into its landing folders; refuse if it has logs."""
    spec = spec or model.simulation or SimulationSpec()
    now = now or datetime.now(UTC)
    if not model.sources.files("predictions"):
        raise SimulationRefused(
            f"Model {model.id!r} has no prediction file source to write to; add one to "
            "sources.predictions."
        )
    import driftguard.governance.registry  # noqa: F401  (registers the lifecycle guard)

    for guard in GUARDS:
        guard(model, lake)
    existing = [f for s in model.sources.files("predictions") for f in discover(s, settings, base)]
    if existing:
        raise SimulationRefused(
            f"Model {model.id!r} already has {len(existing)} log file(s) in its landing folder "
            f"(e.g. {existing[0].path}); simulation never adds to real or earlier logs. Use a "
            "fresh DRIFTGUARD_HOME or a model without logs."
        )
    if lake is not None:
        table = model_table(model.id, "predictions")
        if lake.table_exists(table) and lake.fetchone(f"SELECT count(*) FROM {table}")[0]:
            raise SimulationRefused(
                f"Model {model.id!r} already has logs in the lake; simulation never adds to "
                "real or earlier logs."
            )
    predictions, labels = generate(model, spec, now)
    ts = predictions[model.columns.timestamp]
    result = SimulationResult(
        model.id,
        len(predictions),
        len(labels),
        start=ts.min(),
        end=ts.max(),
        shift_start=align_down(now, timedelta(hours=1)) - timedelta(days=spec.shift_days),
    )
    tag = f"sim-{spec.seed}-{now:%Y%m%dT%H%M%S}"
    writes: list[tuple[Path, Path, bool]] = []  # (staging folder, final folder, recursive glob)
    try:
        source = model.sources.files("predictions")[0]
        folder = landing_folder(source, settings, base)
        staging = folder / f".tmp-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        writes.append((staging, folder / tag, "**" in source.path))
        days = ts.dt.floor("D")
        for day, part in predictions.groupby(days, sort=True):
            _write(part, staging / _file_name(source, f"predictions-{day:%Y-%m-%d}"))
        if model.sources.files("labels") and len(labels):
            label_source = model.sources.files("labels")[0]
            label_folder = landing_folder(label_source, settings, base)
            label_staging = label_folder / f".tmp-{uuid.uuid4().hex}"
            label_staging.mkdir(parents=True)
            writes.append((label_staging, label_folder / tag, "**" in label_source.path))
            _write(labels, label_staging / _file_name(label_source, "labels"))
        for staging_dir, final, recursive in writes:
            result.files += _publish(staging_dir, final, recursive)
    except BaseException:
        for staging_dir, final, _ in writes:
            shutil.rmtree(staging_dir, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
        raise
    return result
