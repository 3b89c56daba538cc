"""A monitoring run: everything computed for one model and one window, committed at once.

A run has two phases. First every stage *computes* from the lake without writing (drift,
fairness, quality, performance, risk, then the governance decisions that read those results).
Then one transaction records the run and lets every stage *store* its results (metric rows,
status changes, kill-switch activations, audit entries), so the lake holds all of a run or none
of it, in one snapshot that reports cite.

Re-running the same model version, window and configuration is a no-op that returns the stored
run (pass ``force=True`` to record a new one, e.g. after late labels arrived).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from driftguard.config import Config, ModelConfig, Settings, Window
from driftguard.errors import DriftGuardError
from driftguard.ingest import default_actor
from driftguard.logs import log_context
from driftguard.schema import ensure_model_tables
from driftguard.sql import model_table
from driftguard.store import Lake

log = logging.getLogger(__name__)


class EmptyWindow(DriftGuardError):
    """Raised by stages that cannot work without rows; the run records it as a finding."""


@dataclass(frozen=True)
class RunContext:
    """What every stage of a run knows."""

    run_id: str
    model: ModelConfig
    config: Config
    settings: Settings
    current: Window
    reference: Window
    as_of: datetime
    actor: str
    n_current: int
    n_reference: int
    #: Summaries of the stages computed so far (later stages read earlier ones).
    summaries: dict[str, Any] = field(default_factory=dict)
    #: How mergeable scans are split across processes (driftguard.partitions.Fanout), or
    #: None for one scan each in this process.
    fanout: Any = None

    @property
    def predictions_table(self) -> str:
        return model_table(self.model.id, "predictions")

    @property
    def labels_table(self) -> str:
        return model_table(self.model.id, "labels")


class Stage(Protocol):
    """One part of a monitoring run. ``compute`` must not write; ``store`` runs inside the
    run's transaction (and may be re-run from the start if the commit is retried)."""

    name: str

    def compute(self, lake: Lake, ctx: RunContext, results: dict[str, Any]) -> Any: ...

    def store(self, lake: Lake, ctx: RunContext, result: Any, results: dict[str, Any]) -> None: ...

    def summary(self, result: Any) -> dict[str, Any]: ...


#: The stages of a run, in order. Later stages read earlier stages' results.
STAGES: list[Stage] = []
#: Called inside the run's transaction after every stage stored (the audit chain adds entries).
AFTER_RUN: list[Callable[[Lake, RunContext, MonitoringRun], None]] = []
#: Called after the run's transaction committed (e.g. publishing kill switches to serving).
AFTER_COMMIT: list[Callable[[Lake, RunContext, MonitoringRun], None]] = []


@dataclass
class MonitoringRun:
    run_id: str
    model_id: str
    model_version: str
    current: Window
    reference: Window
    as_of: datetime
    n_current: int
    n_reference: int
    started_at: datetime
    finished_at: datetime | None = None
    snapshot_id: int | None = None
    config_digest: str = ""
    reused: bool = False
    results: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def findings(self) -> list[str]:
        """Plain sentences naming what needs attention (empty when all is well)."""
        found: list[str] = []
        for section in self.summary.values():
            if isinstance(section, dict):
                found.extend(section.get("findings", []))
        if self.n_current == 0:
            found.append("the current window holds no predictions")
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "window": {"start": self.current.start, "end": self.current.end},
            "reference": {"start": self.reference.start, "end": self.reference.end},
            "as_of": self.as_of,
            "n_current": self.n_current,
            "n_reference": self.n_reference,
            "snapshot_id": self.snapshot_id,
            "config_digest": self.config_digest,
            "reused": self.reused,
            "summary": self.summary,
            "findings": self.findings,
        }


def new_run_id(model_id: str, now: datetime | None = None) -> str:
    """Sortable and unique: ``r20260301T120000-credit-risk-3fa2``."""
    now = now or datetime.now(UTC)
    return f"r{now:%Y%m%dT%H%M%S}-{model_id}-{secrets.token_hex(2)}"


def window_fingerprint(model: ModelConfig, current: Window, config_digest: str) -> str:
    text = json.dumps(
        [model.id, model.version, current.start.isoformat(), current.end.isoformat(), config_digest]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def count_rows(lake: Lake, table: str, window: Window) -> int:
    (n,) = lake.fetchone(
        f"SELECT count(*) FROM {table} WHERE ts >= ? AND ts < ?", [window.start, window.end]
    )
    return int(n)


def run_monitoring(
    lake: Lake,
    config: Config,
    model_id: str,
    settings: Settings,
    *,
    as_of: datetime | None = None,
    current: Window | None = None,
    actor: str | None = None,
    force: bool = False,
    stages: Sequence[Stage] | None = None,
    fanout: Any = None,
) -> MonitoringRun:
    """Monitor one model over one window and commit every result in one transaction.

    ``fanout`` (a :class:`driftguard.partitions.Fanout`) runs the drift histogram and
    fairness group-count scans per time slice, possibly on other processes or machines, all
    reading the lake as of the snapshot this run starts from; the results are the same.
    """
    model = config.model(model_id)
    if stages is None:
        import driftguard.stages  # noqa: F401  (registers the stages in their order)

        stages = STAGES
    as_of = as_of or datetime.now(UTC)
    current = current or model.current_window(as_of)
    reference = model.reference_window(current)
    digest = config.digest()
    fingerprint = window_fingerprint(model, current, digest)
    ensure_model_tables(lake, model)
    if not force:
        existing = load_run_by_fingerprint(lake, fingerprint)
        if existing is not None:
            existing.reused = True
            existing.snapshot_id = lake.snapshot_with_message(commit_message(existing.run_id))
            return existing
    table = model_table(model.id, "predictions")
    started = datetime.now(UTC)
    ctx = RunContext(
        run_id=new_run_id(model.id, started),
        model=model,
        config=config,
        settings=settings,
        current=current,
        reference=reference,
        as_of=as_of,
        actor=actor or default_actor(),
        n_current=count_rows(lake, table, current),
        n_reference=count_rows(lake, table, reference),
        fanout=fanout,
    )
    if fanout is not None:
        fanout.snapshot = lake.snapshot_id()  # every slice reads the lake as it is now
    run = MonitoringRun(
        run_id=ctx.run_id,
        model_id=model.id,
        model_version=model.version,
        current=current,
        reference=reference,
        as_of=as_of,
        n_current=ctx.n_current,
        n_reference=ctx.n_reference,
        started_at=started,
        config_digest=digest,
    )
    ctx.summaries.update(run.summary)  # the same dict object is filled as stages complete
    run.summary = ctx.summaries
    with log_context(run_id=ctx.run_id, model_id=model.id):
        for stage in stages:
            with log_context(step=stage.name):
                began = time.perf_counter()
                run.results[stage.name] = stage.compute(lake, ctx, run.results)
                run.summary[stage.name] = stage.summary(run.results[stage.name])
                log.info(
                    "computed %s",
                    stage.name,
                    extra={"duration_s": round(time.perf_counter() - began, 3)},
                )
        run.finished_at = datetime.now(UTC)

        importlib.import_module("driftguard.audit.hooks")  # registers the run's audit entry

        def write(lk: Lake) -> None:
            _insert_run(lk, run, fingerprint, ctx.actor)
            for stage in stages:
                stage.store(lk, ctx, run.results[stage.name], run.results)
            for hook in AFTER_RUN:
                hook(lk, ctx, run)

        with log_context(step="commit"):
            lake.transaction(write, message=commit_message(run.run_id), author=ctx.actor)
            run.snapshot_id = lake.last_committed_snapshot()
            log.info("committed run in snapshot %s", run.snapshot_id)
        with log_context(step="publish"):
            for after in AFTER_COMMIT:
                after(lake, ctx, run)
    return run


def commit_message(run_id: str) -> str:
    """The lake commit message of a run: how its snapshot is found again later."""
    return f"monitoring run {run_id}"


def _insert_run(lake: Lake, run: MonitoringRun, fingerprint: str, actor: str) -> None:
    lake.execute(
        "INSERT INTO monitoring_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run.run_id,
            run.model_id,
            run.model_version,
            run.current.start,
            run.current.end,
            run.reference.start,
            run.reference.end,
            run.as_of,
            run.n_current,
            run.n_reference,
            run.started_at,
            run.finished_at,
            run.config_digest,
            fingerprint,
            actor,
            json.dumps(run.summary, default=str, sort_keys=True),
        ],
    )


_RUN_COLUMNS = (
    "run_id, model_id, model_version, window_start, window_end, reference_start, "
    "reference_end, as_of, n_current, n_reference, started_at, finished_at, config_digest, "
    "summary_json"
)


def _run_from_row(row: dict[str, Any]) -> MonitoringRun:
    run = MonitoringRun(
        run_id=row["run_id"],
        model_id=row["model_id"],
        model_version=row["model_version"],
        current=Window(start=row["window_start"], end=row["window_end"]),
        reference=Window(start=row["reference_start"], end=row["reference_end"]),
        as_of=row["as_of"],
        n_current=row["n_current"],
        n_reference=row["n_reference"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        config_digest=row["config_digest"],
        summary=json.loads(row["summary_json"] or "{}"),
    )
    return run


def load_run(lake: Lake, run_id: str) -> MonitoringRun:
    rows = lake.records(f"SELECT {_RUN_COLUMNS} FROM monitoring_runs WHERE run_id = ?", [run_id])
    if not rows:
        raise RunNotFound(f"No monitoring run {run_id!r}. `driftguard runs` lists them.")
    run = _run_from_row(rows[0])
    run.snapshot_id = lake.snapshot_with_message(commit_message(run_id))
    return run


def load_run_by_fingerprint(lake: Lake, fingerprint: str) -> MonitoringRun | None:
    rows = lake.records(
        f"SELECT {_RUN_COLUMNS} FROM monitoring_runs WHERE fingerprint = ? "
        "ORDER BY started_at DESC LIMIT 1",
        [fingerprint],
    )
    return _run_from_row(rows[0]) if rows else None


def recent_runs(lake: Lake, model_id: str | None = None, limit: int = 20) -> list[MonitoringRun]:
    where, params = ("WHERE model_id = ?", [model_id]) if model_id else ("", [])
    rows = lake.records(
        f"SELECT {_RUN_COLUMNS} FROM monitoring_runs {where} ORDER BY started_at DESC LIMIT ?",
        [*params, limit],
    )
    return [_run_from_row(r) for r in rows]


class RunNotFound(DriftGuardError, LookupError):
    """A run id that the lake does not hold."""
