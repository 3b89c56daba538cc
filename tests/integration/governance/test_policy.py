"""Policies: versions, one active per scope, precedence, rollback, diff, evaluation, what-if."""

from __future__ import annotations

import pytest

from driftguard.governance import policy as policies
from driftguard.governance.measures import MEASURES, UnknownMeasure, measures_of
from driftguard.governance.roles import NotAuthorised
from tests.integration.governance.conftest import monitored

PSI = [{"id": "psi", "measure": "drift.max_psi", "max": 0.25}]
RISK = [{"id": "risk", "measure": "risk.score", "max": 70, "severity": "warn"}]


def rules(data):
    return policies.parse_rules(data)


# ---- pure evaluation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"measure": "drift.max_psi", "max": 0.25}, 0.25, "pass"),  # the bound itself passes
        ({"measure": "drift.max_psi", "max": 0.25}, 0.2501, "block"),
        ({"measure": "fairness.min_disparate_impact", "min": 0.8}, 0.79, "block"),
        ({"measure": "fairness.min_disparate_impact", "min": 0.8, "severity": "warn"}, 0.5, "warn"),
        ({"measure": "risk.score", "max": 70, "on_missing": "warn"}, None, "warn"),
        ({"measure": "risk.score", "max": 70, "on_missing": "block"}, None, "block"),
        ({"measure": "risk.score", "max": 70, "on_missing": "ignore"}, None, "pass"),
    ],
)
def test_rule_outcomes(rule, value, expected):
    outcome, [detail] = policies.evaluate_rules(
        rules([{"id": "r", **rule}]), {rule["measure"]: value}
    )
    assert outcome == expected == detail.effect
    if value is None:
        assert detail.outcome == "not_evaluated" and "was not computed" in detail.message


def test_policy_outcome_is_the_worst_rule():
    rs = rules(
        [
            {"id": "a", "measure": "drift.max_psi", "max": 0.1, "severity": "warn"},
            {"id": "b", "measure": "risk.score", "max": 50},
            {"id": "c", "measure": "quality.quarantine_rate", "max": 0.1},
        ]
    )
    assert (
        policies.evaluate_rules(
            rs, {"drift.max_psi": 0.3, "risk.score": 10, "quality.quarantine_rate": 0}
        )[0]
        == "warn"
    )
    assert (
        policies.evaluate_rules(
            rs, {"drift.max_psi": 0.3, "risk.score": 60, "quality.quarantine_rate": 0}
        )[0]
        == "block"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"id": "x", "measure": "drift.psi_max", "max": 1}], "unknown measure 'drift.psi_max'"),
        ([{"id": "x", "measure": "risk.score"}], "give exactly one of max or min"),
        ([{"id": "x", "measure": "risk.score", "max": 1, "min": 0}], "exactly one of max"),
        ([{"id": "x", "measure": "risk.score", "max": 1}] * 2, "rule id used twice: x"),
        ([], "at least 1"),
    ],
)
def test_bad_rules_are_refused_clearly(data, message):
    with pytest.raises((policies.PolicyError, UnknownMeasure), match=message):
        rules(data)


def test_measures_read_the_summaries_and_say_none_when_missing():
    measures = measures_of(
        {
            "drift": {"max_psi": 0.3, "share_drifted": 0.5},
            "fairness": {
                "attributes": {
                    "sex": {"equalized_odds_difference": 0.1},
                    "age": {"equalized_odds_difference": 0.25},
                }
            },
            "performance": {"metrics": {"roc_auc": 0.8}},
        },
        rows=120,
    )
    assert measures["drift.max_psi"] == 0.3
    assert measures["fairness.max_equalized_odds_difference"] == 0.25  # worst of the two
    assert measures["performance.roc_auc"] == 0.8 and measures["window.rows"] == 120
    assert measures["risk.score"] is None
    assert set(measures) == set(MEASURES)


# ---- storage ---------------------------------------------------------------------------------


def test_versions_activation_rollback_and_history(ws, lake):
    v1 = policies.create_policy(
        lake,
        ws.config,
        "credit",
        scope="model_type:credit-scoring",
        rules=rules(PSI),
        actor="carol",
    )
    assert (v1.version, v1.scope) == (1, "model_type:credit-scoring")
    assert policies.policy_for(lake, ws.config.model("credit")) is None  # not active yet
    policies.activate_policy(lake, ws.config, "credit", actor="carol")
    v2 = policies.update_policy(lake, ws.config, "credit", rules=rules(PSI + RISK), actor="carol")
    assert v2.version == 2
    assert policies.policy_for(lake, ws.config.model("credit")).version == 1  # still v1
    policies.activate_policy(lake, ws.config, "credit", actor="dave", reason="board approved")
    assert policies.policy_for(lake, ws.config.model("credit")).version == 2
    policies.rollback_policy(lake, ws.config, "credit", to_version=1, actor="dave")
    assert policies.policy_for(lake, ws.config.model("credit")).version == 1
    history = policies.policy_history(lake, "credit")
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert [(e["version"], e["active"]) for e in history["activations"]] == [
        (1, True),
        (2, True),
        (1, True),
    ]
    assert history["activations"][2]["reason"] == "rollback to version 1"
    diff = policies.diff_policy(lake, "credit", 1, 2)
    assert [r["id"] for r in diff["added"]] == ["risk"] and not diff["removed"]
    with pytest.raises(policies.PolicyError, match="exists"):
        policies.create_policy(
            lake, ws.config, "credit", scope="global", rules=rules(PSI), actor="carol"
        )


def test_one_active_policy_per_scope_and_most_specific_wins(ws, lake):
    for name, scope in (
        ("everyone", "global"),
        ("credit-a", "model_type:credit-scoring"),
        ("credit-b", "model_type:credit-scoring"),
        ("just-churn", "model:churn"),
    ):
        policies.create_policy(lake, ws.config, name, scope=scope, rules=rules(PSI), actor="alice")
        policies.activate_policy(lake, ws.config, name, actor="alice")
    active = policies.active_policies(lake)
    assert active[("model_type", "credit-scoring")] == ("credit-b", 1)  # replaced credit-a
    assert len(active) == 3
    assert policies.policy_for(lake, ws.config.model("credit")).name == "credit-b"
    assert policies.policy_for(lake, ws.config.model("churn")).name == "just-churn"
    policies.deactivate_policy(lake, ws.config, "just-churn", actor="alice")
    assert policies.policy_for(lake, ws.config.model("churn")).name == "everyone"


def test_policy_writes_need_the_role(ws, lake):
    with pytest.raises(NotAuthorised):
        policies.create_policy(lake, ws.config, "p", scope="global", rules=rules(PSI), actor="bob")


def test_templates_exist_and_are_valid(ws, lake):
    for name in policies.TEMPLATES:
        created = policies.create_policy(
            lake, ws.config, name, scope="global", template=name, actor="alice"
        )
        assert created.rules and created.description


def test_monitoring_runs_store_the_policy_evaluation(ws, lake):
    policies.create_policy(
        lake, ws.config, "p", scope="model:credit", rules=rules(PSI + RISK), actor="alice"
    )
    policies.activate_policy(lake, ws.config, "p", actor="alice")
    run = monitored(lake, ws, "credit", drift={"max_psi": 0.4}, risk={"score": 30})
    assert run.summary["policy"]["outcome"] == "block"
    assert "psi: largest PSI of any feature 0.4 exceeds the maximum 0.25" in run.findings[0]
    rows = lake.fetchall(
        "SELECT rule_id, value, outcome FROM policy_evaluations WHERE run_id = ? ORDER BY rule_id",
        [run.run_id],
    )
    assert rows == [("psi", 0.4, "block"), ("risk", 30.0, "pass")]


# ---- what-if -------------------------------------------------------------------------------


def test_what_if_reports_changes_and_writes_nothing(ws, lake):
    policies.create_policy(
        lake,
        ws.config,
        "lenient",
        scope="global",
        rules=rules([{"id": "psi", "measure": "drift.max_psi", "max": 0.5}]),
        actor="alice",
    )
    policies.activate_policy(lake, ws.config, "lenient", actor="alice")
    calm = monitored(lake, ws, "credit", drift={"max_psi": 0.1})
    shaky = monitored(lake, ws, "credit", drift={"max_psi": 0.3})
    monitored(lake, ws, "churn", drift={"max_psi": 0.05})
    before = lake.snapshot_id()
    report = policies.what_if(
        lake,
        ws.config,
        rules=rules(PSI),
        scenarios=[{"drift.max_psi": 0.6}, {"drift.max_psi": 0.2, "risk.score": 90}],
    )
    assert lake.snapshot_id() == before  # nothing written
    assert report.runs_evaluated == 3
    assert [(c["run_id"], c["before"], c["after"]) for c in report.changes] == [
        (shaky.run_id, "pass", "block")
    ]
    assert calm.run_id not in {c["run_id"] for c in report.changes}
    assert [s["candidate"] for s in report.scenarios] == ["block", "pass"]
    assert report.scenarios[0]["current"] == {"credit": "block", "churn": "block"}
    with pytest.raises(policies.TooManyScenarios):
        policies.what_if(lake, ws.config, rules=rules(PSI), scenarios=[{}] * 101)
