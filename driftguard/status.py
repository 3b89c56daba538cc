"""What the lake holds per model: rows, labels, batches, quarantine and watermarks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from driftguard.config import Config
from driftguard.sql import model_table
from driftguard.store import Lake


@dataclass(frozen=True)
class ModelStatus:
    model_id: str
    version: str
    rows: int
    labels: int
    labelled_rows: int
    batches: int
    quarantined: int
    first_ts: datetime | None
    watermark: datetime | None
    last_ingest: datetime | None

    @property
    def label_coverage(self) -> float | None:
        return self.labelled_rows / self.rows if self.rows else None

    @property
    def quarantine_rate(self) -> float | None:
        total = self.rows + self.quarantined
        return self.quarantined / total if total else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["label_coverage"] = self.label_coverage
        data["quarantine_rate"] = self.quarantine_rate
        return data


def model_status(lake: Lake, config: Config) -> list[ModelStatus]:
    """One row per configured model; a model never ingested shows zeros, not an error."""
    statuses = []
    for model in config.models:
        predictions = model_table(model.id, "predictions")
        labels = model_table(model.id, "labels")
        rows = labels_n = labelled = 0
        first = last = None
        if lake.table_exists(predictions):
            rows, first, last = lake.fetchone(
                f"SELECT count(*), min(ts), max(ts) FROM {predictions}"
            )
            labels_n, labelled = lake.fetchone(
                f"SELECT count(*), count(DISTINCT l.prediction_id) FILTER "
                f"(WHERE l.prediction_id IN (SELECT prediction_id FROM {predictions})) "
                f"FROM {labels} l"
            )
        batches, last_ingest = lake.fetchone(
            "SELECT count(*), max(finished_at) FROM ingest_batches WHERE model_id = ?", [model.id]
        )
        (quarantined,) = lake.fetchone(
            "SELECT count(*) FROM quarantine WHERE model_id = ? AND kind = 'predictions'",
            [model.id],
        )
        statuses.append(
            ModelStatus(
                model.id,
                model.version,
                rows,
                labels_n,
                labelled,
                batches,
                quarantined,
                first,
                last,
                last_ingest,
            )
        )
    return statuses


def quarantine_reasons(lake: Lake, model_id: str, limit: int = 10) -> list[tuple[str, int]]:
    """Most frequent quarantine rule codes of a model."""
    return lake.fetchall(
        "SELECT split_part(r, ':', 1) AS code, count(*) AS n FROM ("
        "SELECT unnest(string_split(reason, '; ')) AS r FROM quarantine WHERE model_id = ?) "
        "GROUP BY code ORDER BY n DESC, code LIMIT ?",
        [model_id, limit],
    )
