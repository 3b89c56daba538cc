"""Versioned governance policies: rules over monitoring results, evaluated on every run.

A policy is a named list of rules, each bounding one measure (``max`` or ``min``) with a
severity (``warn`` or ``block``). Policies are never edited in place: an update is a new
version, and activation is an event, so the history shows exactly which rules were in force
when. Exactly one version is active per scope (``global``, a model type, or a model); a model
is governed by the most specific active policy.

What-if simulation evaluates a draft policy, or hypothetical measures, against stored run
history and reports which outcomes would change; it only reads the lake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from driftguard import audit
from driftguard.config import Config, ModelConfig, format_validation_error
from driftguard.errors import ConfigError, DriftGuardError
from driftguard.governance.measures import MEASURES, check_measure, measures_of
from driftguard.governance.roles import require, resolve_actor
from driftguard.store import Lake

Outcome = Literal["pass", "warn", "block"]
ScopeKind = Literal["global", "model_type", "model"]
_POLICY_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
MAX_SCENARIOS = 100
_RANK = {"pass": 0, "warn": 1, "block": 2}


class PolicyError(ConfigError):
    """A policy definition or reference is wrong."""


class PolicyNotFound(PolicyError, LookupError):
    """No policy (or version) by that name."""


class Rule(BaseModel):
    """One bound on one measure, e.g. ``{measure: drift.max_psi, max: 0.25, severity: block}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    measure: str
    max: float | None = None
    min: float | None = None
    severity: Literal["warn", "block"] = "block"
    #: What a run that could not compute the measure gets.
    on_missing: Literal["warn", "block", "ignore"] = "warn"
    description: str = ""

    @model_validator(mode="after")
    def _bound(self) -> Rule:
        check_measure(self.measure)
        if (self.max is None) == (self.min is None):
            raise ValueError(f"rule {self.id!r}: give exactly one of max or min")
        return self

    @property
    def bound(self) -> Literal["max", "min"]:
        return "max" if self.max is not None else "min"

    @property
    def threshold(self) -> float:
        return self.max if self.max is not None else self.min  # type: ignore[return-value]


class PolicyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> PolicyDocument:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule id used twice: {', '.join(duplicates)}")
        return self


def parse_rules(data: Any) -> list[Rule]:
    """Validate rules given as a list, or as a mapping with a ``rules`` list."""
    if isinstance(data, list):
        data = {"rules": data}
    try:
        return list(PolicyDocument.model_validate(data).rules)
    except ValidationError as error:
        raise PolicyError("invalid policy: " + "; ".join(format_validation_error(error))) from error


TEMPLATES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "credit-strict": (
        "Strict regime for credit decisioning: fairness and stability block deployment.",
        [
            {"id": "psi", "measure": "drift.max_psi", "max": 0.25, "severity": "block"},
            {
                "id": "drifted-share",
                "measure": "drift.share_drifted",
                "max": 0.3,
                "severity": "block",
            },
            {
                "id": "four-fifths",
                "measure": "fairness.min_disparate_impact",
                "min": 0.8,
                "severity": "block",
                "on_missing": "block",
            },
            {"id": "risk", "measure": "risk.score", "max": 70, "severity": "block"},
            {
                "id": "quarantine",
                "measure": "quality.quarantine_rate",
                "max": 0.05,
                "severity": "warn",
            },
            {
                "id": "labels",
                "measure": "performance.label_coverage",
                "min": 0.5,
                "severity": "warn",
            },
            {"id": "auc-floor", "measure": "performance.roc_auc", "min": 0.7, "severity": "block"},
        ],
    ),
    "internal-lenient": (
        "Lenient regime for internal tools: only severe problems block.",
        [
            {"id": "psi", "measure": "drift.max_psi", "max": 0.5, "severity": "warn"},
            {"id": "risk", "measure": "risk.score", "max": 85, "severity": "block"},
            {
                "id": "quarantine",
                "measure": "quality.quarantine_rate",
                "max": 0.2,
                "severity": "warn",
                "on_missing": "ignore",
            },
        ],
    ),
}


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class RuleOutcome:
    rule_id: str
    measure: str
    bound: str
    threshold: float
    value: float | None
    severity: str
    outcome: Literal["pass", "warn", "block", "not_evaluated"]
    effect: Outcome  # what the rule contributes to the policy outcome
    message: str


@dataclass(frozen=True)
class PolicyEvaluation:
    policy_name: str | None
    policy_version: int | None
    scope: str | None
    outcome: Outcome
    rules: list[RuleOutcome] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [r.message for r in self.rules if r.effect != "pass"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy_name,
            "version": self.policy_version,
            "scope": self.scope,
            "outcome": self.outcome,
            "reasons": self.reasons,
            "rules": [asdict(r) for r in self.rules],
        }


def evaluate_rules(
    rules: Sequence[Rule], measures: Mapping[str, float | None]
) -> tuple[Outcome, list[RuleOutcome]]:
    """Pure: every rule against the measures; the policy outcome is the worst effect."""
    outcomes = []
    for rule in rules:
        value = measures.get(rule.measure)
        name = MEASURES[rule.measure][0]
        limit = f"{rule.bound} {rule.threshold:g}"
        if value is None:
            effect: Outcome = "pass" if rule.on_missing == "ignore" else rule.on_missing
            outcomes.append(
                RuleOutcome(
                    rule.id,
                    rule.measure,
                    rule.bound,
                    rule.threshold,
                    None,
                    rule.severity,
                    "not_evaluated",
                    effect,
                    f"{rule.id}: {name} was not computed for this run ({limit} could not be "
                    f"checked; counts as {effect})",
                )
            )
            continue
        broken = value > rule.threshold if rule.bound == "max" else value < rule.threshold
        outcome: Outcome = rule.severity if broken else "pass"
        verb = "exceeds" if rule.bound == "max" else "is below"
        message = (
            f"{rule.id}: {name} {value:.4g} {verb} the {limit.split()[0]}imum {rule.threshold:g}"
            if broken
            else f"{rule.id}: {name} {value:.4g} within {limit}"
        )
        outcomes.append(
            RuleOutcome(
                rule.id,
                rule.measure,
                rule.bound,
                rule.threshold,
                value,
                rule.severity,
                outcome,
                outcome,
                message,
            )
        )
    worst: Outcome = max((o.effect for o in outcomes), key=_RANK.__getitem__, default="pass")
    return worst, outcomes


# --------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class PolicyVersion:
    name: str
    version: int
    scope_kind: ScopeKind
    scope_value: str
    rules: list[Rule]
    description: str
    created_by: str
    created_at: datetime

    @property
    def scope(self) -> str:
        return "global" if self.scope_kind == "global" else f"{self.scope_kind}:{self.scope_value}"

    def evaluate(self, measures: Mapping[str, float | None]) -> PolicyEvaluation:
        outcome, rules = evaluate_rules(self.rules, measures)
        return PolicyEvaluation(self.name, self.version, self.scope, outcome, rules)


def parse_scope(text: str) -> tuple[ScopeKind, str]:
    """``global``, ``model_type:<type>`` or ``model:<id>``."""
    if text == "global":
        return "global", "*"
    kind, sep, value = text.partition(":")
    if not sep or kind not in ("model_type", "model") or not value:
        raise PolicyError(f"scope {text!r}: write global, model_type:<type> or model:<id>")
    return kind, value  # type: ignore[return-value]


def _row_to_version(row: dict[str, Any]) -> PolicyVersion:
    return PolicyVersion(
        name=row["policy_name"],
        version=row["version"],
        scope_kind=row["scope_kind"],
        scope_value=row["scope_value"],
        rules=parse_rules(json.loads(row["rules_json"])),
        description=row["description"] or "",
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


def policy_versions(lake: Lake, name: str) -> list[PolicyVersion]:
    rows = lake.records(
        "SELECT * FROM policy_versions WHERE policy_name = ? ORDER BY version", [name]
    )
    return [_row_to_version(r) for r in rows]


def get_policy(lake: Lake, name: str, version: int | None = None) -> PolicyVersion:
    versions = policy_versions(lake, name)
    if not versions:
        raise PolicyNotFound(f"No policy named {name!r}. `driftguard policy history` lists them.")
    if version is None:
        return versions[-1]
    for candidate in versions:
        if candidate.version == version:
            return candidate
    raise PolicyNotFound(
        f"Policy {name!r} has no version {version}; versions: "
        f"{', '.join(str(v.version) for v in versions)}"
    )


def _touch(lake: Lake, resource: str) -> None:
    """Rewrite this resource's guard row so concurrent changes to it conflict and retry."""
    lake.execute("DELETE FROM governance_heads WHERE resource = ?", [resource])
    lake.execute("INSERT INTO governance_heads VALUES (?, ?)", [resource, datetime.now(UTC)])


def create_policy(
    lake: Lake,
    config: Config,
    name: str,
    *,
    scope: str,
    rules: Sequence[Rule] | None = None,
    template: str | None = None,
    description: str = "",
    actor: str | None = None,
) -> PolicyVersion:
    """Create version 1 of a policy (inactive until activated)."""
    actor = resolve_actor(actor)
    if not _POLICY_NAME.match(name):
        raise PolicyError(f"policy name {name!r} must match {_POLICY_NAME.pattern}")
    if template:
        if template not in TEMPLATES:
            raise PolicyError(
                f"unknown template {template!r}; available: {', '.join(sorted(TEMPLATES))}"
            )
        description = description or TEMPLATES[template][0]
        rules = rules or parse_rules(TEMPLATES[template][1])
    if not rules:
        raise PolicyError("a policy needs rules (--rules FILE) or a --template")
    kind, value = parse_scope(scope)
    require(lake, config, actor, "policy.write", resource_type="policy", resource_id=name)

    def work(lk: Lake) -> PolicyVersion:
        _touch(lk, f"policy:{name}")
        if lk.fetchone("SELECT count(*) FROM policy_versions WHERE policy_name = ?", [name])[0]:
            raise PolicyError(f"policy {name!r} exists; use `driftguard policy update`")
        return _insert_version(lk, name, 1, kind, value, rules, description, actor, "created")

    return lake.transaction(work, message=f"policy {name} created", author=actor)


def update_policy(
    lake: Lake,
    config: Config,
    name: str,
    *,
    rules: Sequence[Rule],
    description: str | None = None,
    actor: str | None = None,
) -> PolicyVersion:
    """Add a new version with new rules; the active version does not change until activated."""
    actor = resolve_actor(actor)
    require(lake, config, actor, "policy.write", resource_type="policy", resource_id=name)

    def work(lk: Lake) -> PolicyVersion:
        _touch(lk, f"policy:{name}")
        latest = get_policy(lk, name)
        return _insert_version(
            lk,
            name,
            latest.version + 1,
            latest.scope_kind,
            latest.scope_value,
            rules,
            latest.description if description is None else description,
            actor,
            "updated",
        )

    return lake.transaction(work, message=f"policy {name} updated", author=actor)


def _insert_version(
    lake: Lake,
    name: str,
    version: int,
    kind: str,
    value: str,
    rules: Sequence[Rule],
    description: str,
    actor: str,
    action: str,
) -> PolicyVersion:
    rules_json = json.dumps([r.model_dump(exclude_defaults=True) for r in rules], sort_keys=True)
    now = datetime.now(UTC)
    lake.execute(
        "INSERT INTO policy_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [name, version, kind, value, rules_json, description, actor, now],
    )
    audit.append(
        lake,
        event_type="policy_change",
        action=f"policy.{action}",
        actor=actor,
        resource_type="policy",
        resource_id=f"{name}@{version}",
        payload={"scope": f"{kind}:{value}", "rules": json.loads(rules_json)},
    )
    return PolicyVersion(name, version, kind, value, list(rules), description, actor, now)  # type: ignore[arg-type]


def active_policies(lake: Lake) -> dict[tuple[str, str], tuple[str, int]]:
    """(scope kind, scope value) -> (policy name, version) for every active scope."""
    rows = lake.fetchall(
        "SELECT scope_kind, scope_value, arg_max(policy_name, changed_at), "
        "arg_max(version, changed_at), "
        "arg_max(active, changed_at) FROM policy_activations GROUP BY scope_kind, scope_value"
    )
    return {(k, v): (name, version) for k, v, name, version, active in rows if active}


def activate_policy(
    lake: Lake,
    config: Config,
    name: str,
    *,
    version: int | None = None,
    actor: str | None = None,
    reason: str = "",
    action: str = "activated",
) -> PolicyVersion:
    """Make a version the one active policy of its scope (replacing whichever was active)."""
    actor = resolve_actor(actor)
    require(lake, config, actor, "policy.activate", resource_type="policy", resource_id=name)

    def work(lk: Lake) -> PolicyVersion:
        chosen = get_policy(lk, name, version)
        _touch(lk, f"scope:{chosen.scope}")
        now = datetime.now(UTC)
        lk.execute(
            "INSERT INTO policy_activations VALUES (?, ?, ?, ?, true, ?, ?, ?)",
            [name, chosen.version, chosen.scope_kind, chosen.scope_value, actor, reason, now],
        )
        previous = active_policies(lk).get((chosen.scope_kind, chosen.scope_value))
        audit.append(
            lk,
            event_type="policy_change",
            action=f"policy.{action}",
            actor=actor,
            resource_type="policy",
            resource_id=f"{name}@{chosen.version}",
            reason=reason or None,
            payload={"scope": chosen.scope, "replaces": list(previous) if previous else None},
        )
        return chosen

    return lake.transaction(work, message=f"policy {name} {action}", author=actor)


def deactivate_policy(
    lake: Lake, config: Config, name: str, *, actor: str | None = None, reason: str = ""
) -> None:
    actor = resolve_actor(actor)
    require(lake, config, actor, "policy.activate", resource_type="policy", resource_id=name)

    def work(lk: Lake) -> None:
        latest = get_policy(lk, name)
        _touch(lk, f"scope:{latest.scope}")
        current = active_policies(lk).get((latest.scope_kind, latest.scope_value))
        if not current or current[0] != name:
            raise PolicyError(f"policy {name!r} is not active")
        lk.execute(
            "INSERT INTO policy_activations VALUES (?, ?, ?, ?, false, ?, ?, ?)",
            [
                name,
                current[1],
                latest.scope_kind,
                latest.scope_value,
                actor,
                reason,
                datetime.now(UTC),
            ],
        )
        audit.append(
            lk,
            event_type="policy_change",
            action="policy.deactivated",
            actor=actor,
            resource_type="policy",
            resource_id=f"{name}@{current[1]}",
            reason=reason or None,
        )

    lake.transaction(work, message=f"policy {name} deactivated", author=actor)


def rollback_policy(
    lake: Lake,
    config: Config,
    name: str,
    *,
    to_version: int,
    actor: str | None = None,
    reason: str = "",
) -> PolicyVersion:
    """Activate an earlier version again (history keeps every version and event)."""
    return activate_policy(
        lake,
        config,
        name,
        version=to_version,
        actor=actor,
        reason=reason or f"rollback to version {to_version}",
        action="rolled_back",
    )


def policy_history(lake: Lake, name: str) -> dict[str, Any]:
    versions = policy_versions(lake, name)
    if not versions:
        raise PolicyNotFound(f"No policy named {name!r}.")
    events = lake.records(
        "SELECT version, active, actor, reason, changed_at FROM policy_activations "
        "WHERE policy_name = ? ORDER BY changed_at",
        [name],
    )
    return {
        "policy": name,
        "scope": versions[-1].scope,
        "versions": [
            {
                "version": v.version,
                "created_by": v.created_by,
                "created_at": v.created_at,
                "description": v.description,
                "rules": [r.model_dump(exclude_defaults=True) for r in v.rules],
            }
            for v in versions
        ],
        "activations": events,
    }


def diff_policy(lake: Lake, name: str, a: int, b: int) -> dict[str, Any]:
    """Rule-level differences between two versions."""
    old = {r.id: r.model_dump() for r in get_policy(lake, name, a).rules}
    new = {r.id: r.model_dump() for r in get_policy(lake, name, b).rules}
    changed = {
        rule_id: {
            k: [old[rule_id][k], new[rule_id][k]]
            for k in old[rule_id]
            if old[rule_id][k] != new[rule_id][k]
        }
        for rule_id in sorted(set(old) & set(new))
        if old[rule_id] != new[rule_id]
    }
    return {
        "policy": name,
        "from": a,
        "to": b,
        "added": [new[i] for i in sorted(set(new) - set(old))],
        "removed": [old[i] for i in sorted(set(old) - set(new))],
        "changed": changed,
    }


def policy_for(lake: Lake, model: ModelConfig) -> PolicyVersion | None:
    """The most specific active policy of a model: model, then model type, then global."""
    active = active_policies(lake)
    for key in (("model", model.id), ("model_type", model.model_type), ("global", "*")):
        if key in active:
            name, version = active[key]
            return get_policy(lake, name, version)
    return None


def evaluate_for(
    lake: Lake, model: ModelConfig, measures: Mapping[str, float | None]
) -> PolicyEvaluation:
    policy = policy_for(lake, model)
    if policy is None:
        return PolicyEvaluation(None, None, None, "pass", [])
    return policy.evaluate(measures)


# --------------------------------------------------------------------------- what-if


class TooManyScenarios(PolicyError):
    """What-if takes at most MAX_SCENARIOS hypothetical scenarios."""


@dataclass
class WhatIfReport:
    candidate: str
    runs_evaluated: int
    changes: list[dict[str, Any]]
    scenarios: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def what_if(
    lake: Lake,
    config: Config,
    *,
    rules: Sequence[Rule],
    models: Sequence[str] | None = None,
    scenarios: Sequence[Mapping[str, float]] = (),
    limit_runs: int = 1000,
) -> WhatIfReport:
    """Compare a candidate rule set with the policies in force, without writing anything.

    Over stored runs: which runs would change outcome. Over scenarios (hypothetical measures,
    at most 100): the outcome under each model's current policy and under the candidate.
    """
    if len(scenarios) > MAX_SCENARIOS:
        raise TooManyScenarios(f"at most {MAX_SCENARIOS} scenarios, got {len(scenarios)}")
    for scenario in scenarios:
        for key in scenario:
            check_measure(key)
    selected = config.select(models)
    changes, evaluated = [], 0
    for model in selected:
        current = policy_for(lake, model)
        rows = lake.records(
            "SELECT run_id, window_start, n_current, summary_json FROM monitoring_runs "
            "WHERE model_id = ? ORDER BY started_at DESC LIMIT ?",
            [model.id, limit_runs],
        )
        for row in rows:
            evaluated += 1
            measures = measures_of(json.loads(row["summary_json"] or "{}"), rows=row["n_current"])
            before = current.evaluate(measures).outcome if current else "pass"
            after, detail = evaluate_rules(rules, measures)
            if before != after:
                changes.append(
                    {
                        "model_id": model.id,
                        "run_id": row["run_id"],
                        "window_start": row["window_start"],
                        "current_policy": current.scope + f" {current.name}@{current.version}"
                        if current
                        else None,
                        "before": before,
                        "after": after,
                        "reasons": [r.message for r in detail if r.effect != "pass"],
                    }
                )
    scenario_rows = []
    for index, scenario in enumerate(scenarios):
        measures = {name: None for name in MEASURES} | {k: float(v) for k, v in scenario.items()}
        after, detail = evaluate_rules(rules, measures)
        per_model = {
            m.id: (
                policy_for(lake, m).evaluate(measures).outcome if policy_for(lake, m) else "pass"
            )
            for m in selected
        }
        scenario_rows.append(
            {
                "scenario": index + 1,
                "measures": dict(scenario),
                "candidate": after,
                "current": per_model,
                "reasons": [r.message for r in detail if r.effect != "pass"],
            }
        )
    return WhatIfReport(
        candidate=f"{len(rules)} rule(s)",
        runs_evaluated=evaluated,
        changes=changes,
        scenarios=scenario_rows,
    )


class PolicyBlocked(DriftGuardError):
    """Raised where a policy outcome must stop an action (the deployment gate)."""


# --------------------------------------------------------------------------- monitoring stage


class PolicyStage:
    """Evaluates the model's active policy on every monitoring run and stores each rule."""

    name = "policy"

    def compute(self, lake: Lake, ctx: Any, results: dict[str, Any]) -> PolicyEvaluation:
        measures = measures_of(ctx.summaries, rows=ctx.n_current)
        return evaluate_for(lake, ctx.model, measures)

    def store(
        self, lake: Lake, ctx: Any, result: PolicyEvaluation, results: dict[str, Any]
    ) -> None:
        if result.policy_name is None:
            return
        now = datetime.now(UTC)
        for rule in result.rules:
            lake.execute(
                "INSERT INTO policy_evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    ctx.run_id,
                    ctx.model.id,
                    ctx.model.version,
                    result.policy_name,
                    result.policy_version,
                    rule.rule_id,
                    rule.measure,
                    rule.bound,
                    rule.threshold,
                    rule.value,
                    rule.severity,
                    rule.outcome,
                    rule.message,
                    now,
                ],
            )
        audit.append(
            lake,
            event_type="policy_evaluation",
            action=f"policy.{result.outcome}",
            actor=ctx.actor,
            severity={"pass": "info", "warn": "warning", "block": "high"}[result.outcome],
            resource_type="model_version",
            resource_id=f"{ctx.model.id}@{ctx.model.version}",
            run_id=ctx.run_id,
            reason="; ".join(result.reasons) or None,
            payload={
                "policy": result.policy_name,
                "version": result.policy_version,
                "outcome": result.outcome,
            },
        )

    def summary(self, result: PolicyEvaluation) -> dict[str, Any]:
        findings = []
        if result.outcome != "pass":
            findings.append(
                f"policy {result.policy_name} v{result.policy_version} says {result.outcome}: "
                + "; ".join(result.reasons)
            )
        return {
            "policy": result.policy_name,
            "version": result.policy_version,
            "scope": result.scope,
            "outcome": result.outcome,
            "reasons": result.reasons,
            "findings": findings,
        }


from driftguard.monitor import STAGES  # noqa: E402  (registration, after the class exists)

STAGES.append(PolicyStage())
