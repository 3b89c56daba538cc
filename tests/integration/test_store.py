"""The lake: extensions from PyPI packages, migrations, transactions, snapshots, retries."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import duckdb
import pytest

from driftguard.config import Settings
from driftguard.schema import LATEST_VERSION, MIGRATIONS, Migration, current_version, migrate
from driftguard.store import (
    CatalogBusy,
    Lake,
    LakeLocation,
    SchemaTooNew,
    extension_path,
    with_retry,
)
from tests.helpers import lake_env


@pytest.fixture
def lake(tmp_path):
    """The lake of the test's lake mode (embedded by default; see --lake in conftest.py)."""
    with Lake.open(Settings.from_env(lake_env(), home=tmp_path / "home")) as opened:
        yield opened


def test_extensions_come_from_their_packages():
    for name in ("ducklake", "sqlite_scanner", "postgres_scanner", "httpfs"):
        path = extension_path(name)
        assert path.is_file() and "site-packages" in str(path)


def test_embedded_default_layout(tmp_path):
    with Lake.open(Settings.from_env({}, home=tmp_path / "home")) as lake:
        home = (tmp_path / "home").resolve()
        assert lake.location.catalog == f"sqlite:{home / 'catalog.sqlite'}"
        assert lake.location.data_path == f"{home / 'lake'}/"
        assert (home / "catalog.sqlite").exists()
        assert current_version(lake) == LATEST_VERSION


def test_postgres_dsn_is_accepted_and_password_never_described(tmp_path):
    location = LakeLocation.resolve(
        Settings.from_env(
            {}, home=tmp_path, catalog="postgres:dbname=lake host=db password=hunter2"
        )
    )
    assert location.backend == "postgres" and not location.is_embedded
    assert "hunter2" not in location.describe()


def test_migrations_apply_once(lake):
    assert migrate(lake) == []  # already applied by open()
    extra = (
        *MIGRATIONS,
        Migration(LATEST_VERSION + 1, "test table", ("CREATE TABLE t_extra (x INTEGER)",)),
    )
    assert migrate(lake, extra) == [LATEST_VERSION + 1]
    assert migrate(lake, extra) == []
    assert lake.table_exists("t_extra")


def test_lake_newer_than_code_is_refused(lake):
    future = (*MIGRATIONS, Migration(99, "future", ("CREATE TABLE t_future (x INTEGER)",)))
    migrate(lake, future)
    with pytest.raises(SchemaTooNew, match="version 99 but this DriftGuard knows up to"):
        migrate(lake)


def test_transaction_is_all_or_nothing(lake):
    before = lake.snapshot_id()

    def half_then_fail(lk: Lake) -> None:
        lk.execute("INSERT INTO source_watermarks VALUES ('m', 'predictions', 's', NULL, now())")
        raise RuntimeError("injected")

    with pytest.raises(RuntimeError, match="injected"):
        lake.transaction(half_then_fail)
    assert lake.fetchone("SELECT count(*) FROM source_watermarks")[0] == 0
    assert lake.snapshot_id() == before


def test_nested_transactions_join_the_outer_one(lake):
    before = lake.snapshot_id()

    def outer(lk: Lake) -> None:
        lk.execute("INSERT INTO source_watermarks VALUES ('a', 'predictions', 's', NULL, now())")
        lk.transaction(
            lambda inner: inner.execute(
                "INSERT INTO source_watermarks VALUES ('b', 'predictions', 's', NULL, now())"
            )
        )

    lake.transaction(outer)
    assert lake.snapshot_id() == before + 1  # one commit, one snapshot
    assert lake.fetchone("SELECT count(*) FROM source_watermarks")[0] == 2


def test_transient_errors_are_retried_and_others_are_not():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise duckdb.TransactionException("Failed to commit: database is locked")
        return "ok"

    assert with_retry(flaky, what="test") == "ok" and len(calls) == 3
    with pytest.raises(CatalogBusy, match="Gave up test after 2 attempts"):
        with_retry(
            lambda: (_ for _ in ()).throw(duckdb.TransactionException("database is locked")),
            what="test",
            attempts=2,
        )
    with pytest.raises(duckdb.CatalogException):
        with_retry(lambda: (_ for _ in ()).throw(duckdb.CatalogException("no table")), what="x")


def test_snapshot_ids_and_commit_messages(lake):
    before = lake.snapshot_id()
    lake.transaction(
        lambda lk: lk.execute("INSERT INTO source_watermarks VALUES ('m','k','s',NULL,now())"),
        message="a test write",
        author="tester",
    )
    assert lake.snapshot_id() == before + 1
    newest = lake.snapshots(1)[0]
    assert (newest["author"], newest["commit_message"]) == ("tester", "a test write")


def _open_and_migrate(home: str) -> int:
    with Lake.open(Settings.from_env(lake_env(), home=Path(home))) as lake:
        return current_version(lake)


def test_concurrent_first_opens_migrate_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        versions = pool.map(_open_and_migrate, [str(tmp_path / "home")] * 3)
    assert versions == [LATEST_VERSION] * 3
    with Lake.open(Settings.from_env(lake_env(), home=tmp_path / "home")) as lake:
        rows = lake.fetchall("SELECT version FROM schema_migrations ORDER BY version")
    assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]


@pytest.mark.e2e
def test_postgres_catalog_with_data_files_in_s3(tmp_path, monkeypatch, postgres_server, s3_server):
    """Settings only: the catalog's tables land in PostgreSQL, the Parquet files in the bucket."""
    database = postgres_server.create_database()
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(
        {},
        home=tmp_path / "home",
        catalog=f"postgres:{postgres_server.dsn(database)}",
        data_path=f"s3://lake/{database}",
    )
    with Lake.open(settings) as lake:
        assert lake.location.data_path == f"s3://lake/{database}/"
        lake.transaction(
            lambda lk: lk.execute("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
        )
        assert lake.fetchone("SELECT count(*), sum(x) FROM t") == (1000, 499500)
        assert current_version(lake) == LATEST_VERSION
    tables = postgres_server.psql(
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'ducklake_%'",
        dbname=database,
    )
    assert int(tables) > 10  # DuckLake's catalog tables live in PostgreSQL
    keys = [
        o["Key"]
        for o in s3_server.client().list_objects_v2(Bucket="lake", Prefix=f"{database}/")[
            "Contents"
        ]
    ]
    assert any(k.startswith(f"{database}/main/t/") and k.endswith(".parquet") for k in keys)
    assert not (tmp_path / "home" / "lake").exists()  # nothing written locally
