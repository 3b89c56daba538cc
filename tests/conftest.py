"""pytest bootstrap: an isolated Prefect home, quiet logs, and small DriftGuard workspaces."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# ---- before anything imports prefect -------------------------------------------------------
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-test-home-")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_PROFILE", None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
for _var in (
    "DRIFTGUARD_HOME",
    "DRIFTGUARD_CONFIG",
    "DRIFTGUARD_CATALOG",
    "DRIFTGUARD_PII_KEY",
    "DRIFTGUARD_AUDIT_SIGNING_KEY",
    "DRIFTGUARD_AUDIT_HMAC_KEY",
    "DRIFTGUARD_AUDIT_PUBLIC_KEYS",
):
    os.environ.pop(_var, None)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from tests.helpers import make_workspace  # noqa: E402


@pytest.fixture(scope="session")
def prefect_api():
    """One throw-away Prefect API per test session (7-10 s to start on 2 cores)."""
    from prefect.settings import temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    # heartbeats make every flow call wait >= 1 s on exit; tests do not need them
    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        with prefect_test_harness(server_startup_timeout=90):
            yield


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A workspace with two small models and their landing folders under tmp_path."""
    return make_workspace(tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def report_world(tmp_path_factory):
    """A small monitored workspace with governance, for the report tests (built once)."""
    from tests.report_world import build

    return build(tmp_path_factory.mktemp("report-world"))
