"""Data retention: raw logs older than N days are deleted; results and the audit trail stay.

Per model (``retention.raw_days``, default ``operations.retention.raw_days``; none = keep):

1. In one transaction: delete prediction rows with ``ts`` before the cutoff (now - raw_days),
   the labels of those predictions (and labels older than the cutoff whose prediction is gone),
   and quarantined rows quarantined before the cutoff; record counts in ``retention_runs``; and
   append a ``retention.applied`` audit entry. Aggregated results (drift, fairness, quality,
   performance, risk, policy evaluations), monitoring runs, governance tables and audit entries
   are never touched.
2. Rewrite the data files of the two tables, so the deleted rows are no longer in any file the
   current snapshot uses (a DuckLake DELETE only writes a "delete file" beside the data).

Then, for the whole lake, snapshots older than ``operations.retention.keep_snapshots`` are
expired and the files only they referenced are deleted (``ducklake_expire_snapshots``,
``ducklake_cleanup_old_files``), which is when deleted rows physically leave the disk. A report
can be re-rendered from its run's snapshot (time travel) only while that snapshot is kept.

A window that a monitoring run needs is never deleted: a model whose rolling reference reaches
further back than ``raw_days`` (current + gap + reference length) is refused with
:class:`RetentionTooShort`, and so is a fixed reference that starts before the cutoff.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from driftguard import audit
from driftguard.config import Config, ModelConfig
from driftguard.errors import ConfigError
from driftguard.ingest import default_actor
from driftguard.sql import model_table, quote_literal
from driftguard.store import ALIAS, Lake, with_retry


class RetentionTooShort(ConfigError):
    """raw_days would delete rows that monitoring runs still compare against."""


@dataclass(frozen=True)
class RetentionResult:
    """What retention deleted (or, with ``dry_run``, would delete) for one model."""

    model_id: str
    raw_days: int
    cutoff: datetime
    predictions_deleted: int
    labels_deleted: int
    quarantine_deleted: int
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExpiryResult:
    """Snapshots expired and files deleted by one maintenance pass."""

    older_than: datetime
    snapshots_expired: int
    files_deleted: int
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def days_needed(model: ModelConfig) -> int | None:
    """Days of raw data a run of ``model`` reads back from now (None: a fixed reference).

    >>> from driftguard.config import ModelConfig
    >>> m = ModelConfig.model_validate({"id": "m", "owner": "o", "purpose": "p",
    ...     "features": {"x": "numeric"}, "reference": {"length": "7d", "gap": "6d"},
    ...     "current": {"length": "1d"}})
    >>> days_needed(m)  # 1 day current + 6 days gap + 7 days reference
    14
    """
    if model.reference.is_fixed:
        return None
    assert model.reference.length is not None
    span = model.current_length() + model.reference.gap + model.reference.length
    return math.ceil(span / timedelta(days=1))


def check_retention(model: ModelConfig, raw_days: int, cutoff: datetime) -> None:
    """Refuse a retention that would delete rows the model's runs still read."""
    needed = days_needed(model)
    if needed is not None and raw_days < needed:
        raise RetentionTooShort(
            f"{model.id}: retention.raw_days={raw_days} would delete rows its runs still "
            f"compare against (current window + gap + reference = {needed} days). Set "
            f"raw_days to at least {needed}."
        )
    if model.reference.is_fixed and model.reference.start is not None:
        start = model.reference.start
        start = start.replace(tzinfo=UTC) if start.tzinfo is None else start
        if start < cutoff:
            raise RetentionTooShort(
                f"{model.id}: the fixed reference window starts {start:%Y-%m-%d}, before the "
                f"retention cutoff {cutoff:%Y-%m-%d}; deleting would destroy the baseline. "
                "Move the reference or raise raw_days."
            )


def _counts(lake: Lake, model: ModelConfig, cutoff: datetime) -> tuple[int, int, int]:
    predictions = model_table(model.id, "predictions")
    labels = model_table(model.id, "labels")
    (n_pred,) = lake.fetchone(f"SELECT count(*) FROM {predictions} WHERE ts < ?", [cutoff])
    (n_lab,) = lake.fetchone(
        f"SELECT count(*) FROM {labels} l WHERE l.prediction_id IN "
        f"(SELECT prediction_id FROM {predictions} WHERE ts < ?) OR (l.labelled_at < ? AND "
        f"l.prediction_id NOT IN (SELECT prediction_id FROM {predictions}))",
        [cutoff, cutoff],
    )
    (n_quar,) = lake.fetchone(
        "SELECT count(*) FROM quarantine WHERE model_id = ? AND quarantined_at < ?",
        [model.id, cutoff],
    )
    return int(n_pred), int(n_lab), int(n_quar)


def apply_model_retention(
    lake: Lake,
    config: Config,
    model_id: str,
    *,
    now: datetime | None = None,
    actor: str | None = None,
    dry_run: bool = False,
) -> RetentionResult | None:
    """Delete one model's raw rows older than its ``raw_days``; None when it keeps all."""
    model = config.model(model_id)
    raw_days = config.raw_days(model_id)
    if raw_days is None:
        return None
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=raw_days)
    check_retention(model, raw_days, cutoff)
    actor = actor or default_actor()
    predictions = model_table(model.id, "predictions")
    labels = model_table(model.id, "labels")
    if not lake.table_exists(predictions):
        return RetentionResult(model.id, raw_days, cutoff, 0, 0, 0, dry_run)
    if dry_run:
        return RetentionResult(model.id, raw_days, cutoff, *_counts(lake, model, cutoff), True)

    def work(lk: Lake) -> RetentionResult:
        n_pred, n_lab, n_quar = _counts(lk, model, cutoff)
        lk.execute(
            f"DELETE FROM {labels} WHERE prediction_id IN "
            f"(SELECT prediction_id FROM {predictions} WHERE ts < ?) OR (labelled_at < ? AND "
            f"prediction_id NOT IN (SELECT prediction_id FROM {predictions}))",
            [cutoff, cutoff],
        )
        lk.execute(f"DELETE FROM {predictions} WHERE ts < ?", [cutoff])
        lk.execute(
            "DELETE FROM quarantine WHERE model_id = ? AND quarantined_at < ?", [model.id, cutoff]
        )
        applied = datetime.now(UTC)
        lk.execute(
            "INSERT INTO retention_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [model.id, cutoff, n_pred, n_lab, n_quar, actor, applied],
        )
        audit.append(
            lk,
            event_type="retention",
            action="retention.applied",
            actor=actor,
            severity="info",
            resource_type="model",
            resource_id=model.id,
            reason=f"raw data older than {raw_days} days deleted",
            payload={
                "raw_days": raw_days,
                "cutoff": cutoff,
                "predictions_deleted": n_pred,
                "labels_deleted": n_lab,
                "quarantine_deleted": n_quar,
            },
        )
        return RetentionResult(model.id, raw_days, cutoff, n_pred, n_lab, n_quar)

    result = lake.transaction(work, message=f"retention {model.id}", author=actor)
    if result.predictions_deleted or result.labels_deleted:
        for table in (predictions, labels):
            _rewrite_files(lake, table)
    return result


def _rewrite_files(lake: Lake, table: str) -> None:
    """Rewrite data files that carry deletions, so no current file holds deleted rows.

    Rows inlined in the catalog are first flushed to files: DuckLake 1.5.5 cannot rewrite a
    table that still has inlined rows (it fails reading their statistics).
    """
    with_retry(
        lambda: lake.execute(
            f"CALL ducklake_flush_inlined_data({quote_literal(ALIAS)}, "
            f"table_name => {quote_literal(table)})"
        ),
        what=f"flushing the inlined rows of {table}",
    )
    with_retry(
        lambda: lake.execute(
            f"CALL ducklake_rewrite_data_files({quote_literal(ALIAS)}, {quote_literal(table)}, "
            "delete_threshold => 0.0)"
        ),
        what=f"rewriting the files of {table}",
    )


def apply_retention(
    lake: Lake,
    config: Config,
    *,
    models: Sequence[str] | None = None,
    now: datetime | None = None,
    actor: str | None = None,
    dry_run: bool = False,
) -> list[RetentionResult]:
    """Retention for every model (or those named) that has ``raw_days``."""
    results = []
    for model in config.select(models):
        result = apply_model_retention(
            lake, config, model.id, now=now, actor=actor, dry_run=dry_run
        )
        if result is not None:
            results.append(result)
    return results


def expire_snapshots(
    lake: Lake,
    *,
    keep: timedelta,
    now: datetime | None = None,
    actor: str | None = None,
    dry_run: bool = False,
) -> ExpiryResult:
    """Expire snapshots older than ``keep`` and delete the files only they referenced.

    The newest snapshot is never expired. The expiry is recorded in the audit log.
    """
    now = now or datetime.now(UTC)
    older_than = now - keep
    alias = quote_literal(ALIAS)
    (candidates,) = lake.fetchone(
        f"SELECT count(*) FROM ducklake_snapshots({alias}) WHERE snapshot_time < ? AND "
        f"snapshot_id < (SELECT max(snapshot_id) FROM ducklake_snapshots({alias}))",
        [older_than],
    )
    if dry_run:
        files = lake.fetchall(
            f"CALL ducklake_cleanup_old_files({alias}, dry_run => true, cleanup_all => true)"
        )
        return ExpiryResult(older_than, int(candidates), len(files), True)
    expired = with_retry(
        lambda: lake.fetchall(
            f"CALL ducklake_expire_snapshots({alias}, older_than => ?::TIMESTAMPTZ)", [older_than]
        ),
        what="expiring snapshots",
    )
    deleted = with_retry(
        lambda: lake.fetchall(f"CALL ducklake_cleanup_old_files({alias}, cleanup_all => true)"),
        what="deleting expired files",
    )
    result = ExpiryResult(older_than, len(expired), len(deleted))
    if expired or deleted:
        audit.append(
            lake,
            event_type="retention",
            action="retention.snapshots_expired",
            actor=actor or default_actor(),
            resource_type="lake",
            resource_id=ALIAS,
            reason=f"snapshots older than {keep} expired",
            payload={
                "older_than": older_than,
                "snapshots_expired": len(expired),
                "files_deleted": len(deleted),
            },
        )
    return result
