"""Prefect artifacts of the orchestration itself: what a pipeline run did, what-if results.

The compliance reports' own artifacts (summary, risk table, links to the HTML reports) come
from ``tasks/report.py``. Keys are lowercase letters, digits and dashes; a key keeps a version
history in the UI's Artifacts page.
"""

from __future__ import annotations

import re
from typing import Any

from prefect import task

from tasks.retry import BACKOFF, transient_only


def artifact_key(*parts: str) -> str:
    """``driftguard-<parts>`` with everything but lowercase letters and digits as dashes.

    >>> artifact_key("pipeline", "monitor-fleet", "Daily")
    'driftguard-pipeline-monitor-fleet-daily'
    """
    text = "-".join(["driftguard", *parts]).lower()
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", text)).strip("-")


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def pipeline_markdown(summary: dict[str, Any]) -> str:
    """The markdown of a pipeline run summary (see :func:`publish_pipeline_summary_task`)."""
    lines = [
        f"# {summary['name']}",
        "",
        f"**Status:** {summary['status']} | **models:** {len(summary['models'])} | "
        f"**failed:** {len(summary['failed'])} | **findings:** {summary['findings']} | "
        f"**alerts:** {summary['alerts']}",
        "",
        "| model | status | run | risk | drifted | findings | events |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary["rows"]:
        lines.append(
            "| "
            + " | ".join(
                _cell(row.get(k, ""))
                for k in ("model", "status", "run_id", "risk", "drifted", "findings", "events")
            )
            + " |"
        )
    for model_id, reason in summary["failed"].items():
        lines += ["", f"- **{_cell(model_id)} failed:** {_cell(reason)}"]
    if summary.get("checkpoint"):
        lines += ["", "Audit checkpoint:", "", f"`{summary['checkpoint']}`"]
    return "\n".join(lines) + "\n"


@task(
    name="pipeline-artifacts",
    task_run_name="artifacts {summary[flow]}",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=transient_only,
    timeout_seconds=120,
)
def publish_pipeline_summary_task(summary: dict[str, Any]) -> list[str]:
    """A markdown summary and a table of the models of one pipeline run; returns the keys."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    key = artifact_key("pipeline", summary["flow"], summary.get("scope", ""))
    create_markdown_artifact(
        key=key, markdown=pipeline_markdown(summary), description=f"{summary['name']}: outcome"
    )
    table_key = key + "-models"
    create_table_artifact(
        key=table_key,
        table=[{k: _cell(v) for k, v in row.items()} for row in summary["rows"]]
        or [{"model": "-", "status": "no models matched"}],
        description=f"{summary['name']}: one row per model",
    )
    return [key, table_key]


@task(name="what-if-artifact", timeout_seconds=120)
def publish_what_if_task(report: dict[str, Any]) -> str:
    """The what-if result as a table artifact of the runs whose outcome would change."""
    from prefect.artifacts import create_markdown_artifact

    lines = [
        "# Policy what-if",
        "",
        f"{report['runs_evaluated']} stored runs evaluated; "
        f"**{len(report['changes'])} would change outcome** under {report['candidate']}.",
        "",
    ]
    if report["changes"]:
        lines += ["| model | run | now | with draft | why |", "|---|---|---|---|---|"]
        lines += [
            f"| {_cell(c['model_id'])} | {_cell(c['run_id'])} | {c['before']} | {c['after']} | "
            f"{_cell('; '.join(c['reasons']))} |"
            for c in report["changes"]
        ]
    if report["scenarios"]:
        lines += ["", "| scenario | draft | current per model |", "|---|---|---|"]
        lines += [
            f"| {_cell(s['measures'])} | {s['candidate']} | {_cell(s['current'])} |"
            for s in report["scenarios"]
        ]
    key = artifact_key("policy-what-if")
    create_markdown_artifact(
        key=key, markdown="\n".join(lines) + "\n", description="policy what-if simulation"
    )
    return key
