"""Kill switches: switch a model version, a model type, an endpoint, a customer segment, a
region or a downstream consumer off, by hand or automatically from a monitoring run.

A switch has a scope and a target (the keys ``driftguard.guard.SCOPE_KEYS`` requires, plus any
that narrow it: a ``region`` switch with a ``model_id`` stops one model in one region). A switch
on a model type blocks every version of every model of that type. Activating one that targets
model versions also sets those registered versions' lifecycle to blocked; they return only by an
authorised release (``driftguard model release``), not by deactivating the switch.

After every change the active switches and the configured safeguards are exported to a
versioned JSON file (temporary file, fsync, rename), which serving code reads through
``driftguard.guard`` without a redeploy; the file's digest is recorded in the audit chain.

Automatic rules (``kill_switches.rules``) are evaluated on every monitoring run; a rule that
fires activates its switch in the run's own transaction. A rule never re-activates a switch
that a person deactivated for the same run window.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftguard import audit
from driftguard.config import Config, KillSwitchRule, Settings
from driftguard.errors import DriftGuardError
from driftguard.files import write_atomically
from driftguard.governance import registry
from driftguard.governance.measures import measures_of
from driftguard.governance.roles import require, require_reason, resolve_actor
from driftguard.guard import FORMAT, SCOPE_KEYS, SCOPES, TARGET_KEYS, seal
from driftguard.store import Lake


class KillSwitchError(DriftGuardError):
    """A kill-switch action that cannot be taken as asked."""


class SwitchNotFound(KillSwitchError, LookupError):
    """No switch with that id."""


@dataclass(frozen=True)
class Switch:
    switch_id: str
    scope: str
    target: dict[str, str]
    reason: str
    context: dict[str, Any]
    source: str  # "manual" or "rule:<id>"
    run_id: str | None
    activated_by: str
    activated_at: datetime
    active: bool
    deactivated_by: str | None = None
    deactivated_at: datetime | None = None
    recovery_notes: str | None = None

    def matches(self, request: dict[str, str]) -> bool:
        return all(request.get(key) == value for key, value in self.target.items())

    def describe(self) -> str:
        target = ", ".join(f"{k}={v}" for k, v in sorted(self.target.items()))
        return f"{self.switch_id} ({self.scope}: {target})"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_target(scope: str, target: dict[str, str]) -> dict[str, str]:
    """Validate a scope and its target keys against the serving guard's contract."""
    if scope not in SCOPE_KEYS:
        raise KillSwitchError(f"unknown scope {scope!r}; scopes: {', '.join(SCOPES)}")
    unknown = set(target) - set(TARGET_KEYS)
    if unknown:
        raise KillSwitchError(
            f"unknown target key(s) {', '.join(sorted(unknown))}; keys: {', '.join(TARGET_KEYS)}"
        )
    missing = [k for k in SCOPE_KEYS[scope] if not target.get(k)]
    if missing:
        raise KillSwitchError(f"a {scope} switch needs {', '.join(missing)}")
    return {k: str(v) for k, v in sorted(target.items())}


def _row_to_switch(row: dict[str, Any]) -> Switch:
    return Switch(
        switch_id=row["switch_id"],
        scope=row["scope"],
        target=json.loads(row["target_json"]),
        reason=row["reason"],
        context=json.loads(row["context_json"] or "{}"),
        source=row["source"],
        run_id=row["run_id"],
        activated_by=row["activated_by"],
        activated_at=row["activated_at"],
        active=row["deactivated_at"] is None,
        deactivated_by=row["deactivated_by"],
        deactivated_at=row["deactivated_at"],
        recovery_notes=row["recovery_notes"],
    )


def active_switches(lake: Lake) -> list[Switch]:
    rows = lake.records(
        "SELECT * FROM killswitches WHERE deactivated_at IS NULL ORDER BY activated_at"
    )
    return [_row_to_switch(r) for r in rows]


def get_switch(lake: Lake, switch_id: str) -> Switch:
    rows = lake.records("SELECT * FROM killswitches WHERE switch_id = ?", [switch_id])
    if not rows:
        raise SwitchNotFound(
            f"No kill switch {switch_id!r}; `driftguard killswitch list` shows the active ones."
        )
    return _row_to_switch(rows[0])


def switch_history(lake: Lake, limit: int = 100) -> list[dict[str, Any]]:
    return lake.records(
        "SELECT e.changed_at, e.switch_id, e.event, e.actor, e.reason, e.run_id, k.scope, "
        "k.target_json FROM killswitch_events e JOIN killswitches k USING (switch_id) "
        "ORDER BY e.changed_at DESC LIMIT ?",
        [limit],
    )


def blocking(lake: Lake, **request: str) -> list[Switch]:
    """Active switches that block a request described by target keys (the guard's rule)."""
    unknown = set(request) - set(TARGET_KEYS)
    if unknown:
        raise KillSwitchError(f"unknown key(s) {', '.join(sorted(unknown))}")
    values = {k: str(v) for k, v in request.items() if v is not None}
    return [s for s in active_switches(lake) if s.matches(values)]


def _touch(lake: Lake) -> None:
    """All switch changes rewrite one guard row: concurrent changes conflict and retry."""
    lake.execute("DELETE FROM governance_heads WHERE resource = 'killswitches'")
    lake.execute("INSERT INTO governance_heads VALUES ('killswitches', ?)", [datetime.now(UTC)])


def _versions_targeted(lake: Lake, scope: str, target: dict[str, str]) -> list[tuple[str, str]]:
    """Registered versions whose lifecycle a switch blocks: version and type switches only."""
    if scope == "model_version":
        return [(target["model_id"], target["version"])]
    if scope == "model_type":
        return [
            tuple(r)
            for r in lake.fetchall(
                "SELECT model_id, version FROM model_versions WHERE model_type = ? AND "
                "lifecycle_state IN ('shadow', 'canary', 'production')",
                [target["model_type"]],
            )
        ]
    return []


def _activate_in(
    lake: Lake,
    *,
    scope: str,
    target: dict[str, str],
    reason: str,
    actor: str,
    context: dict[str, Any],
    source: str,
    run_id: str | None,
    window: tuple[datetime, datetime] | None,
) -> tuple[Switch, bool]:
    """Insert (or find the identical active) switch inside the caller's transaction.

    Returns the switch and whether it is new.
    """
    _touch(lake)
    for existing in active_switches(lake):
        if existing.scope == scope and existing.target == target:
            return existing, False
    now = datetime.now(UTC)
    switch_id = f"ks-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    lake.execute(
        "INSERT INTO killswitches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
        [
            switch_id,
            scope,
            json.dumps(target, sort_keys=True),
            reason,
            json.dumps(context, sort_keys=True, default=str),
            source,
            run_id,
            window[0] if window else None,
            window[1] if window else None,
            actor,
            now,
        ],
    )
    lake.execute(
        "INSERT INTO killswitch_events VALUES (?, 'activated', ?, ?, ?, ?)",
        [switch_id, actor, reason, run_id, now],
    )
    audit.append(
        lake,
        event_type="killswitch",
        action="killswitch.activated",
        actor=actor,
        severity="critical",
        resource_type=f"killswitch:{scope}",
        resource_id=",".join(f"{k}={v}" for k, v in target.items()),
        run_id=run_id,
        reason=reason,
        payload={"switch_id": switch_id, "source": source, "context": context},
    )
    for model_id, version in _versions_targeted(lake, scope, target):
        registry.block_version(
            lake,
            model_id,
            version,
            actor=actor,
            run_id=run_id,
            reason=f"kill switch {switch_id}: {reason}",
            source="killswitch",
        )
    return get_switch(lake, switch_id), True


def activate(
    lake: Lake,
    config: Config,
    settings: Settings,
    *,
    scope: str,
    target: dict[str, str],
    reason: str,
    actor: str | None = None,
    context: dict[str, Any] | None = None,
) -> Switch:
    """Switch a target off by hand (role killswitch.activate), then re-export."""
    actor = resolve_actor(actor)
    target = check_target(scope, target)
    if not reason.strip():
        raise KillSwitchError("activating a kill switch needs a reason")
    require(
        lake,
        config,
        actor,
        "killswitch.activate",
        resource_type=f"killswitch:{scope}",
        resource_id=",".join(f"{k}={v}" for k, v in target.items()),
    )
    switch, _ = lake.transaction(
        lambda lk: _activate_in(
            lk,
            scope=scope,
            target=target,
            reason=reason,
            actor=actor,
            context=context or {},
            source="manual",
            run_id=None,
            window=None,
        ),
        message=f"kill switch on {scope}",
        author=actor,
    )
    export(lake, config, settings, actor=actor)
    return switch


def deactivate(
    lake: Lake,
    config: Config,
    settings: Settings,
    switch_id: str,
    *,
    recovery_notes: str,
    actor: str | None = None,
) -> Switch:
    """Switch a target back on with recovery notes (role killswitch.deactivate)."""
    actor = resolve_actor(actor)
    require_reason(
        config,
        recovery_notes,
        what="deactivating a kill switch",
        kind="recovery notes (what was fixed and checked)",
    )
    current = get_switch(lake, switch_id)
    require(
        lake,
        config,
        actor,
        "killswitch.deactivate",
        resource_type=f"killswitch:{current.scope}",
        resource_id=switch_id,
    )

    def work(lk: Lake) -> Switch:
        _touch(lk)
        switch = get_switch(lk, switch_id)
        if not switch.active:
            raise KillSwitchError(
                f"{switch_id} was already deactivated by "
                f"{switch.deactivated_by} at {switch.deactivated_at}"
            )
        now = datetime.now(UTC)
        lk.execute(
            "UPDATE killswitches SET deactivated_by = ?, deactivated_at = ?, recovery_notes = ? "
            "WHERE switch_id = ?",
            [actor, now, recovery_notes, switch_id],
        )
        lk.execute(
            "INSERT INTO killswitch_events VALUES (?, 'deactivated', ?, ?, ?, ?)",
            [switch_id, actor, recovery_notes, switch.run_id, now],
        )
        audit.append(
            lk,
            event_type="killswitch",
            action="killswitch.deactivated",
            actor=actor,
            severity="high",
            resource_type=f"killswitch:{switch.scope}",
            resource_id=",".join(f"{k}={v}" for k, v in switch.target.items()),
            reason=recovery_notes,
            run_id=switch.run_id,
            payload={"switch_id": switch_id},
        )
        return get_switch(lk, switch_id)

    switch = lake.transaction(work, message=f"kill switch {switch_id} off", author=actor)
    export(lake, config, settings, actor=actor)
    return switch


# --------------------------------------------------------------------------- export


@dataclass(frozen=True)
class ExportResult:
    path: Path
    version: int
    digest: str
    switches: int


def export_document(lake: Lake, config: Config, version: int) -> dict[str, Any]:
    """The ``driftguard-killswitch/1`` document for the current state, sealed."""
    switches = [
        {
            "id": s.switch_id,
            "scope": s.scope,
            "target": s.target,
            "reason": s.reason,
            "activated_at": s.activated_at.astimezone(UTC).isoformat(),
            "activated_by": s.activated_by,
        }
        for s in active_switches(lake)
    ]
    safeguards = {
        model_id: spec.model_dump()
        for model_id, spec in sorted(config.kill_switches.safeguards.items())
    }
    return seal(
        {
            "format": FORMAT,
            "version": version,
            "generated_at": datetime.now(UTC).isoformat(),
            "switches": switches,
            "safeguards": safeguards,
        }
    )


def export_path(config: Config, settings: Settings) -> Path:
    return Path(settings.expand(config.kill_switches.export_path))


def export(
    lake: Lake, config: Config, settings: Settings, *, actor: str | None = None
) -> ExportResult:
    """Write the export file atomically and record its version and digest in the audit chain.

    The file is written inside the recording transaction, so a retried commit rewrites it with
    the retried version number: the file on disk always carries the newest recorded version.
    """
    actor = resolve_actor(actor)
    path = export_path(config, settings)

    def work(lk: Lake) -> ExportResult:
        _touch(lk)
        (previous,) = lk.fetchone("SELECT coalesce(max(version), 0) FROM killswitch_exports")
        document = export_document(lk, config, previous + 1)
        write_atomically(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
        lk.execute(
            "INSERT INTO killswitch_exports VALUES (?, ?, ?, ?, ?, ?)",
            [
                document["version"],
                document["digest"],
                str(path),
                len(document["switches"]),
                actor,
                datetime.now(UTC),
            ],
        )
        audit.append(
            lk,
            event_type="killswitch",
            action="killswitch.exported",
            actor=actor,
            resource_type="killswitch_export",
            resource_id=str(path),
            payload={
                "version": document["version"],
                "digest": document["digest"],
                "switches": len(document["switches"]),
            },
        )
        return ExportResult(
            path, document["version"], document["digest"], len(document["switches"])
        )

    return lake.transaction(work, message="kill-switch export", author=actor)


# --------------------------------------------------------------------------- automatic rules


@dataclass
class Firing:
    rule_id: str
    scope: str
    target: dict[str, str]
    value: float | None
    reason: str
    suppressed_by: str | None = None  # the person who deactivated this switch for this window
    already_active: str | None = None  # the id of an identical switch that is still on


@dataclass
class KillSwitchResult:
    firings: list[Firing] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)  # filled in by store()


def _rule_target(rule: KillSwitchRule, ctx: Any) -> dict[str, str]:
    if rule.scope == "model_type":
        return {"model_type": ctx.model.model_type}
    return {"model_id": ctx.model.id, "version": ctx.model.version}


def _deactivated_for_window(
    lake: Lake, rule_id: str, scope: str, target: dict[str, str], window: tuple[datetime, datetime]
) -> str | None:
    rows = lake.fetchall(
        "SELECT deactivated_by FROM killswitches WHERE source = ? AND scope = ? AND "
        "target_json = ? AND window_start = ? AND window_end = ? AND deactivated_at IS NOT NULL",
        [f"rule:{rule_id}", scope, json.dumps(target, sort_keys=True), *window],
    )
    return rows[0][0] if rows else None


class KillSwitchStage:
    """Evaluates ``kill_switches.rules`` on every run and activates what fires."""

    name = "killswitch"

    def compute(self, lake: Lake, ctx: Any, results: dict[str, Any]) -> KillSwitchResult:
        measures = measures_of(ctx.summaries, rows=ctx.n_current)
        window = (ctx.current.start, ctx.current.end)
        result = KillSwitchResult()
        for rule in ctx.config.kill_switches.rules:
            if rule.models and ctx.model.id not in rule.models:
                continue
            value = measures.get(rule.when.measure)
            if not rule.when.holds(value):
                continue
            target = _rule_target(rule, ctx)
            reason = (
                f"rule {rule.id}: {rule.when.describe()} (measured {value:.4g}) on "
                f"{ctx.model.id} {ctx.model.version}, window {ctx.current}"
            )
            active = next(
                (
                    s.switch_id
                    for s in active_switches(lake)
                    if s.scope == rule.scope and s.target == target
                ),
                None,
            )
            result.firings.append(
                Firing(
                    rule.id,
                    rule.scope,
                    target,
                    value,
                    reason,
                    suppressed_by=_deactivated_for_window(
                        lake, rule.id, rule.scope, target, window
                    ),
                    already_active=active,
                )
            )
        return result

    def store(
        self, lake: Lake, ctx: Any, result: KillSwitchResult, results: dict[str, Any]
    ) -> None:
        result.activated.clear()
        window = (ctx.current.start, ctx.current.end)
        for firing in result.firings:
            suppressed = _deactivated_for_window(
                lake, firing.rule_id, firing.scope, firing.target, window
            )
            if suppressed:
                firing.suppressed_by = suppressed
                continue
            switch, new = _activate_in(
                lake,
                scope=firing.scope,
                target=firing.target,
                reason=firing.reason,
                actor=ctx.actor,
                context={"rule": firing.rule_id, "value": firing.value, "run_id": ctx.run_id},
                source=f"rule:{firing.rule_id}",
                run_id=ctx.run_id,
                window=window,
            )
            if new:
                result.activated.append(switch.switch_id)

    def summary(self, result: KillSwitchResult) -> dict[str, Any]:
        findings, alerts = [], []
        for firing in result.firings:
            if firing.suppressed_by:
                findings.append(
                    f"kill-switch {firing.reason}; not re-activated because "
                    f"{firing.suppressed_by} deactivated it for this window"
                )
                continue
            if firing.already_active:
                findings.append(
                    f"kill switch {firing.already_active} stays active: {firing.reason}"
                )
                continue
            findings.append(f"kill switch activated by {firing.reason}")
            alerts.append(
                {
                    "type": "killswitch_activated",
                    "rule": firing.rule_id,
                    "scope": firing.scope,
                    "target": firing.target,
                    "value": firing.value,
                    "reason": firing.reason,
                }
            )
        return {
            "fired": [asdict(f) for f in result.firings],
            "alerts": alerts,
            "findings": findings,
        }


def export_after_run(lake: Lake, ctx: Any, run: Any) -> None:
    """After a run that changed switches committed, publish the new state to serving."""
    summary = run.summary.get("killswitch") or {}
    if summary.get("alerts"):
        export(lake, ctx.config, ctx.settings, actor=ctx.actor)


from driftguard.monitor import AFTER_COMMIT, STAGES  # noqa: E402  (registration)

STAGES.append(KillSwitchStage())
AFTER_COMMIT.append(export_after_run)
