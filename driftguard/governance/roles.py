"""Who may do what: roles from the configuration, checked before every governed action.

Roles map to actor names in ``driftguard.yaml``; the acting identity defaults to the operating
system user and may be given explicitly (``--actor``). This is authorisation, not
authentication: proving who is at the keyboard is the platform's job (SSO in front of the
Prefect UI, OS accounts on the machine running the CLI), as the README says.
"""

from __future__ import annotations

from driftguard import audit
from driftguard.config import Config
from driftguard.errors import DriftGuardError
from driftguard.ingest import default_actor
from driftguard.store import Lake


class NotAuthorised(DriftGuardError, PermissionError):
    """The actor does not hold a role allowed to take the action (the refusal is audited)."""


class SeparationOfDuties(NotAuthorised):
    """The actor may approve in general, but not this model (owner or requester)."""


class ReasonRequired(DriftGuardError):
    """An action that must be explained in writing was not (or too briefly)."""


def require_reason(
    config: Config, text: str | None, *, what: str, kind: str = "a written reason"
) -> str:
    """Overrides, holds, releases and kill-switch deactivations must say why, in writing."""
    needed = config.governance.min_reason_length
    if text is None or len(text.strip()) < needed:
        raise ReasonRequired(f"{what} needs {kind} of at least {needed} characters")
    return text.strip()


def resolve_actor(actor: str | None) -> str:
    """The explicit actor, else the operating-system user."""
    actor = (actor or default_actor()).strip()
    if not actor:
        raise NotAuthorised("an action needs an actor name")
    return actor


def roles_of(config: Config, actor: str) -> set[str]:
    return {role for role, actors in config.roles.items() if actor in actors}


def allowed(config: Config, actor: str, action: str) -> bool:
    return bool(roles_of(config, actor) & set(config.governance.roles_for(action)))


def record_refusal(
    lake: Lake, *, actor: str, action: str, resource_type: str, resource_id: str, reason: str
) -> None:
    """Audit a refused action in its own transaction (the action itself wrote nothing)."""
    lake.transaction(
        lambda lk: audit.append(
            lk,
            event_type="access_denied",
            action=action,
            actor=actor,
            severity="warning",
            resource_type=resource_type,
            resource_id=resource_id,
            reason=reason,
        ),
        message=f"refused {action} by {actor}",
        author=actor,
    )


def require(
    lake: Lake,
    config: Config,
    actor: str,
    action: str,
    *,
    resource_type: str,
    resource_id: str,
) -> None:
    """Raise :class:`NotAuthorised` (after auditing the refusal) unless ``actor`` may act."""
    if allowed(config, actor, action):
        return
    needed = config.governance.roles_for(action)
    held = sorted(roles_of(config, actor)) or ["none"]
    reason = (
        f"{actor!r} may not {action}: it needs one of the roles {', '.join(needed)}, "
        f"and {actor!r} holds {', '.join(held)}"
    )
    record_refusal(
        lake,
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        reason=reason,
    )
    raise NotAuthorised(reason + ". Ask an admin to grant the role in driftguard.yaml.")
