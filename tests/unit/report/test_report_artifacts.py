"""Prefect artifact plan: valid keys per model, escaped markdown, links to the reports."""

from __future__ import annotations

import doctest
import re

from driftguard.report import artifacts
from driftguard.report.artifacts import artifact_key, artifact_plan, md_escape


def meta(model_id: str, **extra):
    return {
        "model_id": model_id,
        "model_version": "2",
        "run_id": f"r20260601T000000-{model_id}-ab12",
        "status": "AT_RISK",
        "score": 81.25,
        "grade": "F",
        "trend": "worsening",
        "snapshot_id": 12,
        "findings": ["income: PSI 2.6 >= 0.25 (critical)"],
        "summary": ["credit is at risk."],
        "narratives": [{"severity": "critical", "headline": "<script>x</script> drifted"}],
        "policy_outcome": "block",
        "killswitches": ["ks-1"],
        "link": f"file:///home/reports/2026-06-01/{model_id}/report.html",
        **extra,
    }


def test_doctests():
    assert doctest.testmod(artifacts).failed == 0


def test_keys_are_lowercase_letters_digits_and_dashes():
    rendered = {
        "models": [meta("credit_risk"), meta("Fraud.V2")],
        "fleet": {"link": "https://reports.example.com/fleet.html"},
    }
    plan = artifact_plan(rendered)
    keys = [p["key"] for p in plan]
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", k) for k in keys)
    assert keys == [
        "driftguard-fleet-summary",
        "driftguard-fleet-risk",
        "driftguard-fleet-report",
        "driftguard-credit-risk-summary",
        "driftguard-credit-risk-report",
        "driftguard-fraud-v2-summary",
        "driftguard-fraud-v2-report",
    ]
    table = next(p for p in plan if p["type"] == "table")["table"]
    assert table[0]["risk"] == 81.2 and table[0]["grade"] == "F"  # round(81.25, 1): half-even
    links = [p for p in plan if p["type"] == "link"]
    assert links[0]["link"] == "https://reports.example.com/fleet.html"


def test_markdown_escapes_data():
    summary = artifacts.model_markdown(meta("credit"))
    assert "<script>" not in summary and "&lt;script&gt;x&lt;/script&gt; drifted" in summary
    assert md_escape("**bold** [x](y)") == "\\*\\*bold\\*\\* \\[x\\]\\(y\\)"
    assert artifact_key("driftguard", "--A__b--") == "driftguard-a-b"
