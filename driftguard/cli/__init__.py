"""The ``driftguard`` command. Each module here adds one group of commands to ``app``."""

from __future__ import annotations

import sys

from driftguard.cli import (  # noqa: F401  (each module registers its commands)
    audit_cmd,
    config_cmd,
    demo,
    drift_cmd,
    fairness_cmd,
    governance_cmd,
    killswitch_cmd,
    lake,
    monitor_cmd,
    ops_cmd,
    report_cmd,
    serve_cmd,
)
from driftguard.cli._common import app


def main() -> None:
    """Console-script entry point."""
    sys.exit(app(prog_name="driftguard"))


__all__ = ["app", "main"]
