"""``python -m driftguard.cli`` runs the command line (used by tests and scripts)."""

from driftguard.cli import main

main()
