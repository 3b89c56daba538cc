"""What other systems react to: the events a pipeline run announces, as plain data.

The Prefect task layer (``tasks/events.py``) emits them with ``prefect.events.emit_event``, so
Prefect automations can notify people or start flows. This module only decides *which* events
a run or an action produces; it never imports Prefect.

Every event about a model has the resource id ``driftguard.model.<model_id>``; an automation
matches ``driftguard.model.*`` (every model) or one id. Audit verification concerns the whole
log, not a model: its resource is ``driftguard.audit.<log_id>``; a kill switch on a scope that
names no model (a region, an endpoint, ...) has ``driftguard.killswitch.<switch_id>``.

=====================================  ===============================================
event                                  when
=====================================  ===============================================
``driftguard.drift.detected``          a run finds drifted features or prediction drift
``driftguard.risk.status_changed``     a run's risk status differs from the model's
                                       previous run (its first run counts as a change)
``driftguard.killswitch.activated``    a kill-switch rule fired in a run, or a person
                                       switched something off
``driftguard.killswitch.deactivated``  a person switched it back on
``driftguard.policy.promotion_blocked`` the pre-deployment check refused a promotion
``driftguard.audit.verification_failed`` the audit log failed verification (tampered)
=====================================  ===============================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftguard.store import Lake

DRIFT_DETECTED = "driftguard.drift.detected"
RISK_STATUS_CHANGED = "driftguard.risk.status_changed"
KILLSWITCH_ACTIVATED = "driftguard.killswitch.activated"
KILLSWITCH_DEACTIVATED = "driftguard.killswitch.deactivated"
PROMOTION_BLOCKED = "driftguard.policy.promotion_blocked"
AUDIT_VERIFICATION_FAILED = "driftguard.audit.verification_failed"
EVENT_NAMES = (
    DRIFT_DETECTED,
    RISK_STATUS_CHANGED,
    KILLSWITCH_ACTIVATED,
    KILLSWITCH_DEACTIVATED,
    PROMOTION_BLOCKED,
    AUDIT_VERIFICATION_FAILED,
)
_DRIFTED = ("warning", "critical")


def model_resource(model_id: str) -> str:
    """``driftguard.model.<model_id>``: the resource id of every event about a model."""
    return f"driftguard.model.{model_id}"


@dataclass(frozen=True)
class Event:
    """One event to emit: its name, the resource it is about, and a JSON-able payload."""

    name: str
    resource_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    resource_name: str | None = None

    def resource(self) -> dict[str, str]:
        """The Prefect resource mapping (``prefect.resource.id`` and a readable name)."""
        resource = {"prefect.resource.id": self.resource_id}
        if self.resource_name:
            resource["prefect.resource.name"] = self.resource_name
        return resource

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.name, "resource": self.resource(), "payload": self.payload}


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _json_safe(value: Any) -> Any:
    """JSON types only; times as ISO 8601 (what automations' templates and consumers parse)."""
    return json.loads(json.dumps(value, default=_plain))


def _run_payload(run: Mapping[str, Any]) -> dict[str, Any]:
    window = run.get("window") or {}
    return {
        "model_id": run["model_id"],
        "model_version": run.get("model_version"),
        "run_id": run["run_id"],
        "window_start": window.get("start"),
        "window_end": window.get("end"),
    }


def run_events(run: Mapping[str, Any], previous_status: str | None) -> list[Event]:
    """The events a monitoring run (``MonitoringRun.as_dict()``) announces.

    ``previous_status`` is the risk status of the model's previous run (None for its first).
    A run that was reused (the window was already monitored) announces nothing: its events
    were announced when it was recorded.
    """
    if run.get("reused"):
        return []
    model_id = run["model_id"]
    resource = model_resource(model_id)
    base = _run_payload(run)
    summary = run.get("summary") or {}
    events: list[Event] = []

    drift = summary.get("drift") or {}
    drifted = [t for t in drift.get("top") or [] if t.get("verdict") in _DRIFTED]
    prediction = drift.get("prediction_drift") or {}
    if drift.get("n_drifted") or prediction.get("verdict") in _DRIFTED:
        events.append(
            Event(
                DRIFT_DETECTED,
                resource,
                {
                    **base,
                    "n_drifted": drift.get("n_drifted", 0),
                    "n_features": drift.get("n_features"),
                    "drift_score": drift.get("drift_score"),
                    "max_psi": drift.get("max_psi"),
                    "prediction_drift": prediction.get("verdict"),
                    "features": [
                        {
                            "feature": t["feature"],
                            "method": t.get("method"),
                            "value": t.get("value"),
                            "verdict": t.get("verdict"),
                        }
                        for t in drifted
                    ],
                },
                model_id,
            )
        )

    risk = summary.get("risk") or {}
    status = risk.get("status")
    if status and status != previous_status:
        events.append(
            Event(
                RISK_STATUS_CHANGED,
                resource,
                {
                    **base,
                    "previous_status": previous_status,
                    "status": status,
                    "score": risk.get("score"),
                },
                model_id,
            )
        )

    for alert in (summary.get("killswitch") or {}).get("alerts") or []:
        events.append(
            Event(
                KILLSWITCH_ACTIVATED,
                resource,
                {
                    **base,
                    "source": f"rule:{alert.get('rule')}",
                    "rule": alert.get("rule"),
                    "scope": alert.get("scope"),
                    "target": alert.get("target"),
                    "value": alert.get("value"),
                    "reason": alert.get("reason"),
                },
                model_id,
            )
        )
    return [Event(e.name, e.resource_id, _json_safe(e.payload), e.resource_name) for e in events]


def previous_risk_status(lake: Lake, model_id: str, run_id: str) -> str | None:
    """Risk status of the model's run recorded before ``run_id`` (None if there is none)."""
    rows = lake.fetchall(
        "SELECT summary_json FROM monitoring_runs WHERE model_id = ? AND run_id <> ? AND "
        "started_at <= (SELECT max(started_at) FROM monitoring_runs WHERE run_id = ?) "
        "ORDER BY started_at DESC, run_id DESC LIMIT 1",
        [model_id, run_id, run_id],
    )
    if not rows:
        return None
    risk = (json.loads(rows[0][0] or "{}") or {}).get("risk") or {}
    return risk.get("status")


def switch_resource(switch: Mapping[str, Any]) -> tuple[str, str | None]:
    """The model a switch concerns when its target names one, else the switch itself."""
    model_id = (switch.get("target") or {}).get("model_id")
    if model_id:
        return model_resource(model_id), model_id
    return f"driftguard.killswitch.{switch['switch_id']}", None


def killswitch_event(switch: Mapping[str, Any], *, activated: bool) -> Event:
    """A person switched something off (``activated``) or back on; ``switch`` is
    ``Switch.as_dict()``."""
    resource, model_id = switch_resource(switch)
    payload = {
        "switch_id": switch["switch_id"],
        "scope": switch.get("scope"),
        "target": switch.get("target"),
        "source": switch.get("source", "manual"),
        "model_id": model_id,
    }
    if activated:
        payload |= {"reason": switch.get("reason"), "actor": switch.get("activated_by")}
        name = KILLSWITCH_ACTIVATED
    else:
        payload |= {"notes": switch.get("recovery_notes"), "actor": switch.get("deactivated_by")}
        name = KILLSWITCH_DEACTIVATED
    return Event(name, resource, _json_safe(payload), model_id or switch["switch_id"])


def promotion_blocked_event(
    model_id: str, version: str, to_state: str, actor: str, reasons: list[str], check: str
) -> Event:
    return Event(
        PROMOTION_BLOCKED,
        model_resource(model_id),
        {
            "model_id": model_id,
            "model_version": version,
            "to": to_state,
            "actor": actor,
            "check": check,
            "reasons": list(reasons),
        },
        model_id,
    )


def audit_failed_event(verification: Mapping[str, Any]) -> Event:
    """From ``Verification.as_dict()`` of a log that is not intact."""
    return Event(
        AUDIT_VERIFICATION_FAILED,
        f"driftguard.audit.{verification['log_id']}",
        _json_safe(
            {
                "log_id": verification["log_id"],
                "status": verification["status"],
                "kind": verification.get("kind"),
                "first_bad_seq": verification.get("first_bad_seq"),
                "verdict": verification.get("verdict"),
                "size": verification.get("size"),
            }
        ),
        "audit log",
    )
