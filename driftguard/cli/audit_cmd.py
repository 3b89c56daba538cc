"""``driftguard audit ...``: verify, export, trails, statistics, checkpoints, reverts, epochs."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from driftguard import audit
from driftguard.audit.export import verify_export as verify_export_file
from driftguard.audit.signing import (
    Checkpoint,
    KeyRing,
    ed25519_key_id,
    find_checkpoints,
)
from driftguard.audit.verification import Verification
from driftguard.cli._common import (
    console,
    err_console,
    load_workspace,
    parse_moment,
    print_json,
    print_table,
)
from driftguard.cli._common import subapp as _subapp
from driftguard.ingest import default_actor

audit_app = _subapp("audit", "The tamper-evident audit log: verify, export, trails, checkpoints.")

#: Files larger than this in a --reports folder are skipped (reports are small).
REPORT_FILE_LIMIT = 50 * 1024 * 1024


def _checkpoints_from(files: list[Path], reports: Path | None) -> list[Checkpoint]:
    found: list[Checkpoint] = []
    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file", param_hint="--checkpoint")
        found += find_checkpoints(path.read_text(encoding="utf-8", errors="replace"))
    if reports is not None:
        if not reports.is_dir():
            raise typer.BadParameter(f"{reports} is not a folder", param_hint="--reports")
        for path in sorted(p for p in reports.rglob("*") if p.is_file()):
            if path.stat().st_size > REPORT_FILE_LIMIT:
                continue
            found += find_checkpoints(path.read_text(encoding="utf-8", errors="replace"))
    if (files or reports) and not found:
        err_console.print("[yellow]warning:[/] no checkpoint found in the given files")
    return found


def _print_verification(result: Verification) -> None:
    style = {"ok": "green", "unanchored": "yellow", "tampered": "bold red"}[result.status]
    console.print(f"[{style}]{result.verdict()}[/]", markup=True, highlight=False)
    console.print(
        f"log {result.log_id}: {result.size:,} entries verified ({result.mode}), head "
        f"{result.head[:16]}..., {len(result.checkpoints)} checkpoint(s) compared, "
        f"{result.seconds:.2f} s",
        markup=False,
    )
    if result.problems:
        print_table(
            "Problems",
            ["kind", "seq", "detail"],
            [
                (p.kind, p.seq if p.exact else f"{p.seq}..{p.until}", p.detail)
                for p in result.problems
            ],
        )
    for note in result.notes:
        console.print(f"note: {note}", markup=False)


def _exit_for(result: Verification, allow_unanchored: bool) -> None:
    if result.status == "ok" or (result.status == "unanchored" and allow_unanchored):
        return
    raise typer.Exit(1)


@audit_app.command("verify")
def verify_cmd(
    checkpoint: list[Path] = typer.Option(
        None,
        "--checkpoint",
        help="File with checkpoints from outside the lake (report, e-mail, JSON); repeatable.",
    ),
    reports: Path = typer.Option(
        None, "--reports", help="Folder of reports/e-mails: every checkpoint in it is used."
    ),
    log_id: str = typer.Option(None, "--log-id", help="Verify this epoch instead of the active."),
    public_key: list[str] = typer.Option(
        None, "--public-key", help="Trusted Ed25519 public key (hex); repeatable."
    ),
    hash_only: bool = typer.Option(
        False, "--hash-only", help="Only recompute hashes (skip decoding entries and columns)."
    ),
    allow_unanchored: bool = typer.Option(
        False, "--allow-unanchored", help="Exit 0 for an intact log with no trusted checkpoint."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recompute every hash of the audit log and compare it with checkpoints.

    Exit code 1 when the log is tampered, or unanchored (no trusted checkpoint to compare with).
    Example: driftguard audit verify --reports .driftguard/reports
    """
    supplied = _checkpoints_from(list(checkpoint or []), reports)
    keyring = KeyRing.from_env(public_keys=public_key or [])
    ws = load_workspace()
    with ws.open_lake() as lake:
        result = audit.verify(
            lake, log_id=log_id, checkpoints=supplied, keyring=keyring, full=not hash_only
        )
    if as_json:
        print_json(result.as_dict())
    else:
        _print_verification(result)
    _exit_for(result, allow_unanchored)


@audit_app.command("verify-export")
def verify_export_cmd(
    file: Path = typer.Argument(..., help="A .jsonl file written by `driftguard audit export`."),
    checkpoint: list[Path] = typer.Option(
        None, "--checkpoint", help="File with checkpoints from outside the export; repeatable."
    ),
    public_key: list[str] = typer.Option(
        None, "--public-key", help="Trusted Ed25519 public key (hex); repeatable."
    ),
    allow_unanchored: bool = typer.Option(
        False, "--allow-unanchored", help="Exit 0 for an intact export with no trusted checkpoint."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Verify an export without the lake (same as `python -m driftguard.audit verify-export`).

    Example: driftguard audit verify-export audit.jsonl --checkpoint report.html
    """
    supplied = _checkpoints_from(list(checkpoint or []), None)
    keyring = KeyRing.from_env(public_keys=public_key or [])
    result = verify_export_file(file, keyring=keyring, supplied=supplied)
    if as_json:
        print_json(result.as_dict())
    else:
        _print_verification(result)
    _exit_for(result, allow_unanchored)


@audit_app.command("export")
def export_cmd(
    out: Path = typer.Option(None, "--out", "-o", help="File to write (default: standard output)."),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl (verifiable) or csv."),
    log_id: str = typer.Option(None, "--log-id", help="Export this epoch instead of the active."),
) -> None:
    """Export the audit log: JSON Lines with the hashed bytes and checkpoints, or CSV.

    Example: driftguard audit export --out audit.jsonl
    """
    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter(f"{fmt!r}: use jsonl or csv", param_hint="--format")
    ws = load_workspace()
    writer = audit.export_jsonl if fmt == "jsonl" else audit.export_csv
    with ws.open_lake() as lake:
        if out is None:
            count = writer(lake, sys.stdout, log_id=log_id)
        else:
            tmp = out.with_name(f".{out.name}.tmp")
            with tmp.open("w", encoding="utf-8", newline="") as stream:
                count = writer(lake, stream, log_id=log_id)
            tmp.replace(out)
    if out is not None:
        console.print(f"wrote {count:,} entries to {out}", markup=False)


@audit_app.command("trail")
def trail_cmd(
    actor: str = typer.Option(None, "--actor", help="Entries by this actor."),
    resource: str = typer.Option(
        None, "--resource", help="Entries about this resource: ID or TYPE:ID (model:credit-risk)."
    ),
    since: str = typer.Option(None, "--since", help="From this time on (ISO 8601, inclusive)."),
    until: str = typer.Option(None, "--until", help="Before this time (ISO 8601, exclusive)."),
    limit: int = typer.Option(1000, "--limit", help="At most this many entries."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Entries by an actor and/or about a resource, oldest first.

    Example: driftguard audit trail --resource model:credit-risk --since 2026-03-01
    """
    if not actor and not resource:
        raise typer.BadParameter("give --actor, --resource or both")
    ws = load_workspace()
    with ws.open_lake() as lake:
        entries = audit.trail(
            lake,
            actor=actor,
            resource=resource,
            since=parse_moment(since, "--since"),
            until=parse_moment(until, "--until"),
            limit=limit,
        )
    if as_json:
        print_json([e.as_dict() for e in entries])
        return
    print_table(
        f"Audit trail ({len(entries)} entries)",
        ["seq", "time", "severity", "event", "action", "actor", "resource", "reason"],
        [
            (
                e.seq,
                e.ts,
                e.severity,
                e.event_type,
                e.action,
                e.actor,
                f"{e.resource_type}:{e.resource_id}",
                e.reason or "",
            )
            for e in entries
        ],
    )


@audit_app.command("stats")
def stats_cmd(
    since: str = typer.Option(None, "--since", help="From this time on (ISO 8601)."),
    until: str = typer.Option(None, "--until", help="Before this time (ISO 8601)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Entries, actors, and counts by action, event type, severity and actor.

    Example: driftguard audit stats --json
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        numbers = audit.stats(
            lake, since=parse_moment(since, "--since"), until=parse_moment(until, "--until")
        )
    if as_json:
        print_json(numbers)
        return
    console.print(
        f"log {numbers['log_id']} (epoch {numbers['epoch']}): {numbers['size']:,} entries, "
        f"head {numbers['head'][:16]}...; {numbers['checkpoints']:,} checkpoints",
        markup=False,
    )
    console.print(
        f"in range: {numbers['entries']:,} entries by {numbers['actors']:,} actors, "
        f"{numbers['first'] or '-'} to {numbers['last'] or '-'}",
        markup=False,
    )
    for key, title in (
        ("by_event_type", "event type"),
        ("by_action", "action"),
        ("by_severity", "severity"),
        ("by_actor", "actor"),
    ):
        print_table(f"By {title}", [title, "entries"], list(numbers[key].items())[:20])


@audit_app.command("checkpoint")
def checkpoint_cmd(
    out: Path = typer.Option(None, "--out", "-o", help="Also write it to this file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Sign the log's current head and Merkle root now, store and print the checkpoint.

    Keep the printed line somewhere else (a ticket, an e-mail): `audit verify --checkpoint`
    uses it. Example: driftguard audit checkpoint --out checkpoint.txt
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        checkpoint = audit.write_checkpoint(lake, note="driftguard audit checkpoint")
    if out is not None:
        out.write_text(checkpoint.to_text() + "\n", encoding="utf-8")
    if as_json:
        print_json(checkpoint.as_dict())
    else:
        typer.echo(checkpoint.to_text())
        if checkpoint.alg == "none":
            err_console.print(
                "[yellow]note:[/] unsigned (no DRIFTGUARD_AUDIT_SIGNING_KEY or "
                "DRIFTGUARD_AUDIT_HMAC_KEY): it proves integrity only while a copy is kept "
                "outside the lake"
            )


@audit_app.command("revert")
def revert_cmd(
    seq: int = typer.Argument(..., help="Sequence number of the entry to revert."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the log)."),
    actor: str = typer.Option(None, "--actor", help="Who reverts (default: the OS user)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Revert an entry by appending a compensating entry (nothing is deleted or edited).

    Example: driftguard audit revert 42 --reason "approval was given in error"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        entry = audit.revert(lake, seq, reason=reason, actor=actor or default_actor())
    if as_json:
        print_json(entry.as_dict())
    else:
        console.print(f"entry {entry.seq} reverts entry {seq}", markup=False)


@audit_app.command("rollback")
def rollback_cmd(
    target: str = typer.Argument(..., help="Sequence number or chain-hash prefix to go back to."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the log)."),
    actor: str = typer.Option(None, "--actor", help="Who rolls back (default: the OS user)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Declare every entry after TARGET reverted, with one compensating entry.

    Example: driftguard audit rollback 120 --reason "policy change of 3 March withdrawn"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        entry = audit.rollback_to(lake, target, reason=reason, actor=actor or default_actor())
    if as_json:
        print_json(entry.as_dict())
    else:
        span = entry.payload["reverted"]
        console.print(
            f"entry {entry.seq} reverts entries {span['from']}..{span['to']}", markup=False
        )


@audit_app.command("recover")
def recover_cmd(
    reason: str = typer.Option(..., "--reason", help="What happened (recorded in the log)."),
    force: bool = typer.Option(
        False, "--force", help="Start a new epoch even if the log verifies."
    ),
    actor: str = typer.Option(None, "--actor", help="Who recovers (default: the OS user)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Start a new epoch after a corruption: the old log stays as evidence, untouched.

    The new log's first entry records the old head and what verification found.
    Example: driftguard audit recover --reason "restored lake from backup of 2 March"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        entry = audit.start_epoch(lake, reason=reason, actor=actor or default_actor(), force=force)
        checkpoint = audit.write_checkpoint(lake, note="new epoch")
    if as_json:
        print_json({"entry": entry.as_dict(), "checkpoint": checkpoint.as_dict()})
    else:
        previous = entry.payload["previous"]
        console.print(
            f"epoch {entry.payload['epoch']} started: log {entry.log_id}; previous log "
            f"{previous['log_id']} ended at seq {previous['size']} (head "
            f"{previous['head'][:16]}...)",
            markup=False,
        )
        typer.echo(checkpoint.to_text())


@audit_app.command("summary")
def summary_cmd(
    since: str = typer.Option(..., "--since", help="Start of the period (ISO 8601, inclusive)."),
    until: str = typer.Option(None, "--until", help="End of the period (exclusive; default now)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What the audit log recorded in a period: counts, and every critical and high entry.

    Example: driftguard audit summary --since 2026-03-01 --until 2026-04-01
    """
    start = parse_moment(since, "--since")
    assert start is not None
    end = parse_moment(until, "--until") or datetime.now(UTC)
    if end <= start:
        raise typer.BadParameter("--until must be after --since")
    ws = load_workspace()
    with ws.open_lake() as lake:
        result = audit.summary(lake, since=start, until=end)
    if as_json:
        print_json(result.as_dict())
        return
    console.print(
        f"{start.isoformat()} to {end.isoformat()}: {result.entries:,} entries by "
        f"{result.actors:,} actors; {result.reverts} revert(s); {result.checkpoints} "
        "checkpoint(s) issued",
        markup=False,
    )
    print_table("By severity", ["severity", "entries"], list(result.by_severity.items()))
    print_table("By event type", ["event type", "entries"], list(result.by_event_type.items()))
    if result.notable:
        print_table(
            "Critical and high entries",
            ["seq", "time", "severity", "event", "actor", "resource", "reason"],
            [
                (
                    e.seq,
                    e.ts,
                    e.severity,
                    e.event_type,
                    e.actor,
                    f"{e.resource_type}:{e.resource_id}",
                    e.reason or "",
                )
                for e in result.notable
            ],
        )
    if result.latest_checkpoint:
        console.print("latest checkpoint:", markup=False)
        typer.echo(result.latest_checkpoint.to_text())


@audit_app.command("proof")
def proof_cmd(
    seq: int = typer.Argument(..., help="Sequence number of the entry."),
    size: int = typer.Option(None, "--size", help="Tree size (default: the current log size)."),
) -> None:
    """Print an RFC 6962 inclusion proof of one entry in the Merkle tree of the log (JSON).

    Example: driftguard audit proof 42 --size 1000
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        print_json(audit.inclusion_proof_for(lake, seq, size=size))


@audit_app.command("keygen")
def keygen_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the private key (PEM)."),
) -> None:
    """Create an Ed25519 signing key: the private key goes to a file (mode 0600), never to
    the screen; the public key and its id are printed for verifiers.

    Then: export DRIFTGUARD_AUDIT_SIGNING_KEY="$(cat FILE)" (or store it in the Prefect Secret
    block driftguard-audit-signing-key). Example: driftguard audit keygen --out audit-key.pem
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    if out.exists():
        raise typer.BadParameter(f"{out} exists; not overwriting a key", param_hint="--out")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(pem)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    console.print(f"private key written to {out} (mode 0600)", markup=False)
    typer.echo(f"public key: {public.hex()}")
    typer.echo(f"key id: {ed25519_key_id(public)}")
