"""Pure parts of the orchestration: events decided from a run, request validation, metric
text, artifact keys, model selection by cadence, backfill windows; and the doctests."""

from __future__ import annotations

import doctest
import importlib
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from driftguard.actions import KillSwitchActivation, ReportRequest, WhatIfRequest
from driftguard.events import (
    DRIFT_DETECTED,
    KILLSWITCH_ACTIVATED,
    RISK_STATUS_CHANGED,
    audit_failed_event,
    killswitch_event,
    run_events,
)
from driftguard.prometheus import Metric, render

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _run(**summary):
    return {
        "run_id": "r1",
        "model_id": "fraud",
        "model_version": "4",
        "window": {"start": T0, "end": T0 + timedelta(days=1)},
        "summary": summary,
    }


def test_a_quiet_run_with_an_unchanged_status_announces_nothing():
    run = _run(drift={"n_drifted": 0, "top": []}, risk={"status": "HEALTHY", "score": 10})
    assert run_events(run, "HEALTHY") == []


def test_drift_status_change_and_kill_switch_alerts_become_events():
    run = _run(
        drift={
            "n_drifted": 1,
            "n_features": 5,
            "max_psi": 0.9,
            "top": [
                {"feature": "amount", "method": "psi", "value": 0.9, "verdict": "critical"},
                {"feature": "hour", "method": "psi", "value": 0.01, "verdict": "ok"},
            ],
        },
        risk={"status": "AT_RISK", "score": 91.0},
        killswitch={
            "alerts": [
                {
                    "rule": "psi-spike",
                    "scope": "model_version",
                    "target": {"model_id": "fraud", "version": "4"},
                    "value": 0.9,
                    "reason": "r",
                }
            ]
        },
    )
    events = run_events(run, "HEALTHY")
    assert [e.name for e in events] == [DRIFT_DETECTED, RISK_STATUS_CHANGED, KILLSWITCH_ACTIVATED]
    assert {e.resource_id for e in events} == {"driftguard.model.fraud"}
    drift, status, switch = events
    assert [f["feature"] for f in drift.payload["features"]] == ["amount"]  # only drifted ones
    assert (status.payload["previous_status"], status.payload["status"]) == ("HEALTHY", "AT_RISK")
    assert (
        switch.payload["rule"] == "psi-spike" and switch.payload["window_start"] == T0.isoformat()
    )
    assert run_events({**run, "reused": True}, None) == []  # announced when first recorded


def test_prediction_drift_alone_counts_as_drift():
    run = _run(drift={"n_drifted": 0, "prediction_drift": {"verdict": "warning"}})
    assert [e.name for e in run_events(run, None)] == [DRIFT_DETECTED]


def test_switch_and_audit_resources():
    on = killswitch_event(
        {
            "switch_id": "ks-1",
            "scope": "region",
            "target": {"region": "eu"},
            "reason": "outage",
            "activated_by": "erin",
        },
        activated=True,
    )
    assert on.resource_id == "driftguard.killswitch.ks-1" and on.payload["actor"] == "erin"
    failed = audit_failed_event(
        {
            "log_id": "L",
            "status": "tampered",
            "kind": "modified",
            "first_bad_seq": 7,
            "verdict": "TAMPERED",
            "size": 9,
        }
    )
    assert failed.resource_id == "driftguard.audit.L" and failed.payload["first_bad_seq"] == 7


def test_requests_validate_before_a_run_starts():
    with pytest.raises(ValidationError, match="draft rules or the name of a policy"):
        WhatIfRequest(rules=[{"id": "a", "measure": "drift.max_psi", "max": 1}], policy="p")
    with pytest.raises(ValidationError, match="run id or a model id"):
        ReportRequest()
    with pytest.raises(ValidationError, match="actor"):
        KillSwitchActivation(reason="x")  # who acts is required
    with pytest.raises(ValidationError):
        WhatIfRequest(policy="p", scenarios=[{"risk.score": 1.0}] * 101)  # at most 100
    schema = KillSwitchActivation.model_json_schema()
    assert "roles" in schema["properties"]["actor"]["description"]  # the UI form explains it


def test_metric_text_parses_and_escapes_labels():
    m = Metric("driftguard_model_risk_score", "Risk score.")
    m.add(42.5, model='we"ird\\name\n')
    m.add(None, model="unknown")  # unknown values are left out, never written as 0
    (family,) = text_string_to_metric_families(render([m]))
    (sample,) = family.samples
    assert sample.labels == {"model": 'we"ird\\name\n'} and sample.value == 42.5


def test_artifact_keys_and_markdown_escape():
    from tasks.artifacts import artifact_key, pipeline_markdown

    assert artifact_key("pipeline", "monitor-fleet", "cron 30 6 * * 1-5") == (
        "driftguard-pipeline-monitor-fleet-cron-30-6-1-5"
    )
    text = pipeline_markdown(
        {
            "name": "n",
            "status": "failed",
            "models": ["a|b"],
            "failed": {"a|b": "bad\nfile"},
            "findings": 0,
            "alerts": 0,
            "rows": [{"model": "a|b", "status": "failed"}],
        }
    )
    assert "a\\|b" in text and "bad file" in text


def test_models_are_selected_by_cadence_and_cron(tmp_path, monkeypatch):
    from flows.monitor import BackfillRange, backfill_windows, select_models
    from tests.helpers import make_workspace, model_dict

    ws = make_workspace(
        tmp_path,
        monkeypatch,
        [
            model_dict("a", schedule="hourly"),
            model_dict("b"),
            model_dict("c", schedule="0 6 * * *"),
            model_dict("d", schedule="30 6 * * 1-5"),
        ],
    )
    assert select_models(ws, "hourly", None, None) == ["a"]
    assert select_models(ws, "daily", None, None) == ["b"]
    assert select_models(ws, "cron", None, None) == ["c", "d"]
    assert select_models(ws, "cron", "30 6 * * 1-5", None) == ["d"]
    assert select_models(ws, "all", None, ["d", "a"]) == ["d", "a"]  # as named
    span = BackfillRange(start=T0, end=T0 + timedelta(hours=25))
    windows = backfill_windows(timedelta(hours=12), span)
    assert [w.start for w in windows] == [T0, T0 + timedelta(hours=12), T0 + timedelta(hours=24)]


@pytest.mark.parametrize(
    "module",
    [
        "driftguard.history",
        "driftguard.prometheus",
        "driftguard.logs",
        "driftguard.retention",
        "flows.monitor",
        "tasks.artifacts",
    ],
)
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
