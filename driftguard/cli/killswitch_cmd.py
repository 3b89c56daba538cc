"""``driftguard killswitch activate|deactivate|list|history|check|export``."""

from __future__ import annotations

import json

import typer

from driftguard.cli._common import (
    HINTS,
    console,
    load_workspace,
    parse_pairs,
    print_json,
    print_table,
    subapp,
)
from driftguard.governance import killswitch

ks_app = subapp("killswitch", "Switch models, endpoints, segments, regions or consumers off.")
HINTS[killswitch.SwitchNotFound] = "`driftguard killswitch list` shows the active switches."
ACTOR = typer.Option(None, "--actor", help="Acting identity (default: the OS user).")
JSON = typer.Option(False, "--json", help="Print JSON.")


def _target_for(ws, scope: str, model: str | None, pairs: list[str]) -> dict[str, str]:
    target = parse_pairs(pairs, example="region=eu-west")
    if model:
        cfg = ws.config.model(model)
        if scope == "model_type":
            target.setdefault("model_type", cfg.model_type)
        else:
            target.setdefault("model_id", cfg.id)
            if scope == "model_version":
                target.setdefault("version", cfg.version)
    return target


@ks_app.command("activate")
def activate(
    scope: str = typer.Option(
        ..., help="model_version, model_type, endpoint, segment, region or consumer."
    ),
    reason: str = typer.Option(..., "--reason", help="Why (shown to serving and in reports)."),
    model: str = typer.Option(None, "--model", "-m", help="Fill the target from this model."),
    target: list[str] = typer.Option(None, "--target", "-t", help="Target KEY=VALUE."),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Switch a target off now and export the switches for serving (role killswitch.activate).

    Example: driftguard killswitch activate --scope model_version -m fraud --reason "Feed bug"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        switch = killswitch.activate(
            lake,
            ws.config,
            ws.settings,
            scope=scope,
            target=_target_for(ws, scope, model, target),
            reason=reason,
            actor=actor,
        )
    if as_json:
        print_json(switch.as_dict())
    else:
        console.print(f"active: {switch.describe()}", markup=False)


@ks_app.command("deactivate")
def deactivate(
    switch_id: str = typer.Argument(...),
    notes: str = typer.Option(..., "--notes", help="Recovery notes: what was fixed and checked."),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Switch a target back on with recovery notes (blocked model versions stay blocked until
    `driftguard model release`).

    Example: driftguard killswitch deactivate ks-20260301T101500-ab12cd --notes "Feed fixed"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        switch = killswitch.deactivate(
            lake, ws.config, ws.settings, switch_id, recovery_notes=notes, actor=actor
        )
    if as_json:
        print_json(switch.as_dict())
    else:
        console.print(f"deactivated: {switch.describe()}", markup=False)


@ks_app.command("list")
def list_active(as_json: bool = JSON) -> None:
    """Active kill switches.

    Example: driftguard killswitch list --json
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        switches = killswitch.active_switches(lake)
    if as_json:
        print_json([s.as_dict() for s in switches])
        return
    print_table(
        "Active kill switches",
        ["id", "scope", "target", "source", "since", "by", "reason"],
        [
            (
                s.switch_id,
                s.scope,
                json.dumps(s.target),
                s.source,
                s.activated_at,
                s.activated_by,
                s.reason,
            )
            for s in switches
        ],
    )


@ks_app.command("history")
def history(limit: int = typer.Option(50), as_json: bool = JSON) -> None:
    """Activations and deactivations, newest first.

    Example: driftguard killswitch history --limit 20
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        events = killswitch.switch_history(lake, limit)
    if as_json:
        print_json(events)
        return
    print_table(
        "Kill-switch history",
        ["at", "switch", "event", "actor", "scope", "target", "reason"],
        [
            (
                e["changed_at"],
                e["switch_id"],
                e["event"],
                e["actor"],
                e["scope"],
                e["target_json"],
                e["reason"],
            )
            for e in events
        ],
    )


@ks_app.command("check")
def check(
    target: list[str] = typer.Option(None, "--target", "-t", help="Request KEY=VALUE."),
    model: str = typer.Option(None, "--model", "-m", help="Fill id, version, type."),
    as_json: bool = JSON,
) -> None:
    """Is a request blocked? Exit 1 if any active switch blocks it.

    Example: driftguard killswitch check -m credit-risk -t region=eu-west
    """
    ws = load_workspace()
    request = parse_pairs(target, example="region=eu-west")
    if model:
        cfg = ws.config.model(model)
        request = {
            "model_id": cfg.id,
            "version": cfg.version,
            "model_type": cfg.model_type,
            **request,
        }
    with ws.open_lake() as lake:
        switches = killswitch.blocking(lake, **request)
    if as_json:
        print_json(
            {
                "request": request,
                "blocked": bool(switches),
                "switches": [s.as_dict() for s in switches],
            }
        )
    elif switches:
        for switch in switches:
            console.print(f"blocked by {switch.describe()}: {switch.reason}", markup=False)
    else:
        console.print("not blocked")
    if switches:
        raise typer.Exit(1)


@ks_app.command("export")
def export(actor: str = ACTOR, as_json: bool = JSON) -> None:
    """Write the switches and safeguards file for serving now (it is also written on changes).

    Example: driftguard killswitch export
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        result = killswitch.export(lake, ws.config, ws.settings, actor=actor)
    if as_json:
        print_json(
            {
                "path": str(result.path),
                "version": result.version,
                "digest": result.digest,
                "switches": result.switches,
            }
        )
    else:
        console.print(
            f"wrote {result.path} version {result.version} ({result.switches} active, "
            f"sha256 {result.digest[:16]}...)",
            markup=False,
        )
