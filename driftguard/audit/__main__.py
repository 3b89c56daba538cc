"""``python -m driftguard.audit verify-export FILE``: check an audit export without the lake.

Standard library only: an auditor needs Python 3.11 and this package's source, nothing else
(``cryptography`` speeds up Ed25519 checks when present). Exit code 0 when the export
verifies and is anchored by a checkpoint, 1 when it is tampered or unanchored, 2 when the
file or an option cannot be used.

Keys for checking signatures: ``--public-key HEX`` (Ed25519, repeatable) or the environment
(``DRIFTGUARD_AUDIT_PUBLIC_KEYS``, ``DRIFTGUARD_AUDIT_HMAC_KEY``); keys are never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from driftguard.audit.export import verify_export
from driftguard.audit.signing import KeyRing, find_checkpoints
from driftguard.errors import DriftGuardError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m driftguard.audit",
        description="Verify a DriftGuard audit export (JSON Lines) with the standard library.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify-export",
        help="verify an export file",
        description="Recompute every hash of an export and compare it with checkpoints. "
        "Example: python -m driftguard.audit verify-export audit.jsonl --checkpoint report.html",
    )
    verify.add_argument("file", type=Path, help="the .jsonl file written by `audit export`")
    verify.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        type=Path,
        help="a file holding checkpoints from outside the export (report, e-mail, JSON); "
        "repeatable",
    )
    verify.add_argument(
        "--public-key", action="append", default=[], help="trusted Ed25519 public key (hex)"
    )
    verify.add_argument("--hash-only", action="store_true", help="skip decoding entries")
    verify.add_argument(
        "--allow-unanchored",
        action="store_true",
        help="exit 0 for an intact but unanchored export",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        keyring = KeyRing.from_env(public_keys=args.public_key)
        supplied = []
        for path in args.checkpoint:
            supplied += find_checkpoints(path.read_text(encoding="utf-8", errors="replace"))
        result = verify_export(
            args.file, keyring=keyring, supplied=supplied, full=not args.hash_only
        )
    except (DriftGuardError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(result.verdict())
        for note in result.notes:
            print(f"note: {note}")
    if result.status == "ok" or (result.status == "unanchored" and args.allow_unanchored):
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
