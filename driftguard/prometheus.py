"""Metrics for Prometheus: a node-exporter *textfile* written after every pipeline run.

node_exporter's textfile collector (``--collector.textfile.directory``) reads every ``*.prom``
file in a folder on each scrape, so DriftGuard needs no HTTP endpoint of its own: each run
rewrites the file from what the lake holds. The file is written atomically (temporary file in
the same folder, fsync, rename), because the collector may read at any moment and a half-written
file would be dropped with an error.

Metrics (all gauges; labels in braces):

- ``driftguard_pipeline_runs{flow,status}``: pipeline runs recorded;
  ``driftguard_pipeline_last_duration_seconds{flow}``,
  ``driftguard_pipeline_last_success{flow}`` (1 completed, 0 failed),
  ``driftguard_pipeline_last_timestamp_seconds{flow}``;
- per model: ``driftguard_model_runs``, ``driftguard_model_last_run_timestamp_seconds``,
  ``driftguard_model_last_run_duration_seconds``, ``driftguard_model_rows_ingested``,
  ``driftguard_model_rows_quarantined``, ``driftguard_model_drifted_features``,
  ``driftguard_model_risk_score`` (absent when unknown), ``driftguard_model_risk_status{status}``
  (1 for the current status, 0 for the three others);
- ``driftguard_killswitches_active{scope}``;
- ``driftguard_audit_chain_length``, ``driftguard_audit_last_verification_ok``,
  ``driftguard_audit_last_verification_timestamp_seconds``;
- ``driftguard_metrics_generated_timestamp_seconds``.

Format: https://prometheus.io/docs/instrumenting/exposition_formats/ (text format 0.0.4).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from driftguard.config import Config, Settings
from driftguard.files import write_atomically
from driftguard.store import Lake

RISK_STATUSES = ("HEALTHY", "ATTENTION_NEEDED", "AT_RISK", "UNKNOWN")
METRICS_PATH_ENV = "DRIFTGUARD_METRICS_PATH"


@dataclass
class Metric:
    """One metric family: name, help text and samples (labels -> value)."""

    name: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)
    type: str = "gauge"

    def add(self, value: float | None, **labels: str) -> None:
        if value is None:
            return  # an unknown value is left out, never written as 0
        self.samples.append((labels, float(value)))


def escape_label(value: str) -> str:
    r"""Escape a label value: backslash, double quote and line feed.

    >>> escape_label('a"b\\c\nd')
    'a\\"b\\\\c\\nd'
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def render(metrics: Iterable[Metric]) -> str:
    """The text exposition format: HELP and TYPE lines, then one line per sample.

    >>> m = Metric("driftguard_model_risk_score", "Risk score 0-100.")
    >>> m.add(42.5, model="fraud")
    >>> print(render([m]), end="")
    # HELP driftguard_model_risk_score Risk score 0-100.
    # TYPE driftguard_model_risk_score gauge
    driftguard_model_risk_score{model="fraud"} 42.5
    """
    lines: list[str] = []
    for metric in metrics:
        help_text = metric.help.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"# HELP {metric.name} {help_text}")
        lines.append(f"# TYPE {metric.name} {metric.type}")
        for labels, value in metric.samples:
            body = ",".join(f'{k}="{escape_label(str(v))}"' for k, v in sorted(labels.items()))
            lines.append(
                f"{metric.name}{{{body}}} {_number(value)}"
                if body
                else f"{metric.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def _ts(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def collect(lake: Lake, config: Config, *, now: datetime | None = None) -> list[Metric]:
    """Every metric, read from the lake (pipeline runs, monitoring runs, ingestion ledger,
    kill switches, the audit log and its last verification)."""
    now = now or datetime.now(UTC)
    metrics: list[Metric] = []

    runs = Metric("driftguard_pipeline_runs", "Pipeline runs recorded, by flow and status.")
    for flow, status, n in lake.fetchall(
        "SELECT flow, status, count(*) FROM pipeline_runs GROUP BY ALL ORDER BY ALL"
    ):
        runs.add(n, flow=flow, status=status)
    last_duration = Metric(
        "driftguard_pipeline_last_duration_seconds", "Duration of the last finished run."
    )
    last_success = Metric(
        "driftguard_pipeline_last_success", "1 if the last finished run completed, 0 if failed."
    )
    last_time = Metric(
        "driftguard_pipeline_last_timestamp_seconds", "End of the last finished run (Unix time)."
    )
    for flow, status, duration, finished in lake.fetchall(
        "SELECT flow, arg_max(status, finished_at), arg_max(duration_s, finished_at), "
        "max(finished_at) FROM pipeline_runs WHERE finished_at IS NOT NULL GROUP BY flow "
        "ORDER BY flow"
    ):
        last_duration.add(duration, flow=flow)
        last_success.add(1 if status == "completed" else 0, flow=flow)
        last_time.add(_ts(finished), flow=flow)
    metrics += [runs, last_duration, last_success, last_time]

    model_runs = Metric("driftguard_model_runs", "Monitoring runs recorded per model.")
    last_run = Metric(
        "driftguard_model_last_run_timestamp_seconds", "End of the model's last run (Unix time)."
    )
    run_duration = Metric(
        "driftguard_model_last_run_duration_seconds", "Duration of the model's last run."
    )
    ingested = Metric("driftguard_model_rows_ingested", "Prediction rows accepted, all time.")
    quarantined = Metric(
        "driftguard_model_rows_quarantined", "Prediction rows quarantined, all time."
    )
    drifted = Metric(
        "driftguard_model_drifted_features", "Features with drift in the model's last run."
    )
    risk_score = Metric("driftguard_model_risk_score", "Risk score 0-100 of the last run.")
    risk_status = Metric(
        "driftguard_model_risk_status", "1 for the risk status of the model's last run."
    )
    latest = {
        row["model_id"]: row
        for row in lake.records(
            "SELECT model_id, count(*) AS n, arg_max(summary_json, started_at) AS summary, "
            "arg_max(finished_at, started_at) AS finished, "
            "arg_max(epoch(finished_at) - epoch(started_at), started_at) AS duration "
            "FROM monitoring_runs GROUP BY model_id"
        )
    }
    ledger = {
        model_id: (accepted, rejected)
        for model_id, accepted, rejected in lake.fetchall(
            "SELECT model_id, sum(rows_accepted), sum(rows_quarantined) FROM ingest_batches "
            "WHERE kind = 'predictions' GROUP BY model_id"
        )
    }
    for model in config.models:
        accepted, rejected = ledger.get(model.id, (0, 0))
        ingested.add(accepted or 0, model=model.id)
        quarantined.add(rejected or 0, model=model.id)
        row = latest.get(model.id)
        model_runs.add(row["n"] if row else 0, model=model.id)
        status = "UNKNOWN"
        if row:
            summary = json.loads(row["summary"] or "{}")
            last_run.add(_ts(row["finished"]), model=model.id)
            run_duration.add(row["duration"], model=model.id)
            drifted.add((summary.get("drift") or {}).get("n_drifted"), model=model.id)
            risk = summary.get("risk") or {}
            risk_score.add(risk.get("score"), model=model.id)
            status = risk.get("status") or "UNKNOWN"
        for name in RISK_STATUSES:
            risk_status.add(1 if name == status else 0, model=model.id, status=name)
    metrics += [
        model_runs,
        last_run,
        run_duration,
        ingested,
        quarantined,
        drifted,
        risk_score,
        risk_status,
    ]

    switches = Metric("driftguard_killswitches_active", "Active kill switches, by scope.")
    counts = dict(
        lake.fetchall(
            "SELECT scope, count(*) FROM killswitches WHERE deactivated_at IS NULL GROUP BY scope"
        )
    )
    for scope in ("model_version", "model_type", "endpoint", "segment", "region", "consumer"):
        switches.add(counts.get(scope, 0), scope=scope)
    metrics.append(switches)

    chain = Metric("driftguard_audit_chain_length", "Entries in the active audit log.")
    (size,) = lake.fetchone("SELECT coalesce(max(size), 0) FROM audit_head")
    chain.add(size)
    verified_ok = Metric(
        "driftguard_audit_last_verification_ok",
        "1 if the last full audit verification was OK, 0 if not (absent before the first).",
    )
    verified_at = Metric(
        "driftguard_audit_last_verification_timestamp_seconds",
        "When the audit log was last verified (Unix time).",
    )
    last = lake.fetchone(
        "SELECT status, verified_at FROM audit_verifications ORDER BY verified_at DESC LIMIT 1"
    )
    if last:
        verified_ok.add(1 if last[0] == "ok" else 0)
        verified_at.add(_ts(last[1]))
    metrics += [chain, verified_ok, verified_at]

    generated = Metric(
        "driftguard_metrics_generated_timestamp_seconds", "When this file was written."
    )
    generated.add(now.timestamp())
    metrics.append(generated)
    return metrics


def metrics_path(config: Config, settings: Settings) -> Path | None:
    """Where the textfile goes: DRIFTGUARD_METRICS_PATH, else ``operations.metrics_path``
    (``{home}`` expanded); None when disabled (an empty variable or ``null`` in the config)."""
    if METRICS_PATH_ENV in os.environ:
        value: str | None = os.environ[METRICS_PATH_ENV] or None
    else:
        value = config.operations.metrics_path
    return Path(settings.expand(value)) if value else None


def write_textfile(path: Path, text: str) -> Path:
    """Write atomically, readable by the node-exporter user (mode 0644)."""
    return write_atomically(path, text)


def write_metrics(lake: Lake, config: Config, settings: Settings) -> Path | None:
    """Collect and write the textfile; returns its path (None when disabled)."""
    path = metrics_path(config, settings)
    if path is None:
        return None
    return write_textfile(path, render(collect(lake, config)))
