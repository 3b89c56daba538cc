"""Environment for running Prefect flows from the command line without a configured server."""

from __future__ import annotations

import os
from pathlib import Path


def prepare_prefect_env(home: Path, *, verbose: bool = False) -> None:
    """Keep Prefect's state under the DriftGuard home and quiet offline.

    Without PREFECT_API_URL, Prefect starts a temporary local server for the run (its
    "ephemeral" mode). These must be set before ``prefect`` is first imported.
    """
    os.environ.setdefault("PREFECT_HOME", str((home / "prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
