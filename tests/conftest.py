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
    "DRIFTGUARD_DATA_PATH",
    "DRIFTGUARD_METADATA_SCHEMA",
    "DRIFTGUARD_S3_KEY_ID",
    "DRIFTGUARD_S3_SECRET",
    "DRIFTGUARD_S3_ENDPOINT",
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

#: Where the lakes of the tests live: ``embedded`` (SQLite catalog, local Parquet: the default),
#: ``postgres`` (a PostgreSQL catalog on 127.0.0.1, local Parquet) or ``postgres+s3``
#: (PostgreSQL catalog, Parquet files in moto's S3 server). ``--lake`` or DRIFTGUARD_TEST_LAKE.
LAKE_MODES = ("embedded", "postgres", "postgres+s3")


def pytest_addoption(parser):
    parser.addoption(
        "--lake",
        choices=LAKE_MODES,
        default=os.environ.get("DRIFTGUARD_TEST_LAKE", "embedded"),
        help="run the tests against this lake: embedded (default), postgres or postgres+s3 "
        "(starts PostgreSQL and moto on 127.0.0.1; see tests/servers.py)",
    )


def pytest_report_header(config):
    return f"driftguard lake: {config.getoption('--lake')}"


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A PostgreSQL server on 127.0.0.1 for this session (skips when it cannot be installed)."""
    from tests.servers import PostgresServer, ServerUnavailable, temporary_root

    try:
        server = PostgresServer(temporary_root("driftguard-pg-")).start()
    except ServerUnavailable as error:
        pytest.skip(str(error))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3-compatible server on 127.0.0.1 with a bucket ``lake``."""
    from tests.servers import S3Server, temporary_root

    server = S3Server(temporary_root("driftguard-s3-")).start()
    server.create_bucket("lake")
    yield server
    server.stop()


@pytest.fixture
def postgres_lake_env(request, postgres_server):
    """Environment of a fresh lake with a PostgreSQL catalog (a new database per test), and
    with ``s3`` requested, its data files in the S3 server."""
    database = postgres_server.create_database()
    env = {"DRIFTGUARD_CATALOG": f"postgres:{postgres_server.dsn(database)}"}
    if getattr(request, "param", None) == "s3" or request.config.getoption("--lake").endswith(
        "+s3"
    ):
        s3 = request.getfixturevalue("s3_server")
        env["DRIFTGUARD_DATA_PATH"] = f"s3://lake/{database}/"
        env.update(s3.environment())
    return env


@pytest.fixture(autouse=True)
def _lake_mode(request):
    """With --lake postgres[+s3], every test's lake lives there (the variables a deployment
    would set); the embedded default needs nothing."""
    if request.config.getoption("--lake") == "embedded":
        yield
        return
    env = request.getfixturevalue("postgres_lake_env")
    monkeypatch = request.getfixturevalue("monkeypatch")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield


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
