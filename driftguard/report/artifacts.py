"""What each run publishes to the Prefect UI, as plain data (the task layer sends it).

Artifacts (keys are lowercase letters, digits and dashes; a key keeps its history in the UI,
so every run of a model adds a version under the same keys):

===============================  ========  ====================================================
key                              type      content
===============================  ========  ====================================================
``driftguard-fleet-summary``     markdown  status, risk, grade and findings of every model
``driftguard-fleet-risk``        table     one row per model: status, score, grade, trend, ...
``driftguard-fleet-report``      link      the fleet HTML report
``driftguard-<model>-summary``   markdown  the model's executive summary and decisions
``driftguard-<model>-report``    link      the model's HTML report
===============================  ========  ====================================================

Text that comes from data (feature names, reasons) is escaped for markdown, so a name such
as ``<script>`` or ``**bold**`` shows as typed.
"""

from __future__ import annotations

import re
from typing import Any

from driftguard.report.format import score

_KEY_CHARS = re.compile(r"[^a-z0-9-]+")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def artifact_key(*parts: str) -> str:
    """``driftguard-credit_risk-report`` -> ``driftguard-credit-risk-report``.

    >>> artifact_key("driftguard", "Credit_Risk v2", "report")
    'driftguard-credit-risk-v2-report'
    """
    text = "-".join(parts).lower()
    return re.sub(r"-{2,}", "-", _KEY_CHARS.sub("-", text)).strip("-")


def md_escape(text: Any) -> str:
    """Markdown-safe text: markup characters backslash-escaped, ``<`` and ``>`` as entities.

    >>> md_escape("<script>*x*</script>")
    '&lt;script&gt;\\\\*x\\\\*&lt;/script&gt;'
    """
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return value.replace("\n", " ")


_STATUS_MARK = {"HEALTHY": "✓", "ATTENTION_NEEDED": "▲", "AT_RISK": "✕", "UNKNOWN": "?"}


def _status(value: str) -> str:
    return f"{_STATUS_MARK.get(value, '•')} {value.replace('_', ' ')}"


def model_markdown(meta: dict[str, Any]) -> str:
    lines = [
        f"# {md_escape(meta['model_id'])} {md_escape(meta['model_version'])}: "
        f"{_status(meta['status'])}",
        "",
        f"**Risk {score(meta['score'])} / 100, grade {meta['grade']}**, trend "
        f"{md_escape(meta['trend'])}; run `{meta['run_id']}`, snapshot {meta['snapshot_id']}.",
        "",
    ]
    lines += [md_escape(s) for s in meta.get("summary") or []]
    narratives = meta.get("narratives") or []
    if narratives:
        lines += ["", "## Decisions", ""]
        lines += [
            f"- **{md_escape(n['severity'])}**: {md_escape(n['headline'])}" for n in narratives
        ]
    findings = meta.get("findings") or []
    if findings:
        lines += ["", "## Findings", ""]
        lines += [f"- {md_escape(f)}" for f in findings]
    link = meta.get("link")
    if link:
        lines += ["", f"[Full compliance report]({link})"]
    return "\n".join(lines) + "\n"


def fleet_markdown(rendered: dict[str, Any]) -> str:
    models = rendered.get("models") or []
    attention = [m for m in models if m["status"] != "HEALTHY"]
    lines = [
        f"# DriftGuard: {len(attention)} of {len(models)} model(s) need attention",
        "",
        "| model | status | risk | grade | trend | findings |",
        "|---|---|---:|:---:|---|---:|",
    ]
    for m in sorted(models, key=lambda m: (-(m["score"] or -1), m["model_id"])):
        lines.append(
            f"| {md_escape(m['model_id'])} {md_escape(m['model_version'])} | "
            f"{_status(m['status'])} | {score(m['score'])} | {m['grade']} | "
            f"{md_escape(m['trend'])} | {len(m.get('findings') or [])} |"
        )
    for m in attention:
        first = (m.get("findings") or [""])[0]
        if first:
            lines += ["", f"- **{md_escape(m['model_id'])}**: {md_escape(first)}"]
    fleet = rendered.get("fleet")
    if fleet and fleet.get("link"):
        lines += ["", f"[Fleet report]({fleet['link']})"]
    return "\n".join(lines) + "\n"


def risk_table(rendered: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "model": m["model_id"],
            "version": m["model_version"],
            "status": m["status"],
            "risk": None if m["score"] is None else round(float(m["score"]), 1),
            "grade": m["grade"],
            "trend": m["trend"],
            "findings": len(m.get("findings") or []),
            "policy": m.get("policy_outcome") or "none",
            "kill_switches": len(m.get("killswitches") or []),
            "run_id": m["run_id"],
            "report": m.get("link", ""),
        }
        for m in rendered.get("models") or []
    ]


def artifact_plan(rendered: dict[str, Any]) -> list[dict[str, Any]]:
    """Every artifact to publish for ``rendered`` (what ``render_reports`` returned)."""
    plan: list[dict[str, Any]] = []
    models = rendered.get("models") or []
    if models:
        plan.append(
            {
                "type": "markdown",
                "key": "driftguard-fleet-summary",
                "markdown": fleet_markdown(rendered),
                "description": "DriftGuard: health and risk of the monitored models",
            }
        )
        plan.append(
            {
                "type": "table",
                "key": "driftguard-fleet-risk",
                "table": risk_table(rendered),
                "description": "Models and risk",
            }
        )
    fleet = rendered.get("fleet")
    if fleet and fleet.get("link"):
        plan.append(
            {
                "type": "link",
                "key": "driftguard-fleet-report",
                "link": fleet["link"],
                "link_text": "Fleet compliance report",
                "description": "Executive dashboard (HTML)",
            }
        )
    for m in models:
        plan.append(
            {
                "type": "markdown",
                "key": artifact_key("driftguard", m["model_id"], "summary"),
                "markdown": model_markdown(m),
                "description": f"{m['model_id']} {m['model_version']}: run {m['run_id']}",
            }
        )
        if m.get("link"):
            plan.append(
                {
                    "type": "link",
                    "key": artifact_key("driftguard", m["model_id"], "report"),
                    "link": m["link"],
                    "link_text": f"{m['model_id']} compliance report ({m['run_id']})",
                    "description": f"HTML report of run {m['run_id']}",
                }
            )
    return plan
