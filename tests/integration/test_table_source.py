"""Prediction logs and labels read from a real PostgreSQL table, incrementally by a cursor."""

from __future__ import annotations

import pytest

from driftguard.ingest import ingest_model
from driftguard.table_source import (
    MissingSourceSecret,
    stored_position,
)
from tests.helpers import make_workspace, model_dict

pytestmark = pytest.mark.e2e  # starts PostgreSQL

PASSWORD = "s3cret-pa55"


@pytest.fixture
def source_db(postgres_server):
    """A database with a prediction-log table and a label table, and a password-protected
    role that can read them (what a serving database gives DriftGuard)."""
    db = postgres_server.create_database("src")
    postgres_server.psql(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dg_reader') THEN
            CREATE ROLE dg_reader LOGIN PASSWORD '{PASSWORD}' IN ROLE password_login;
          END IF;
        END $$;
        CREATE SCHEMA serving;
        CREATE TABLE serving.prediction_log (
            id BIGSERIAL PRIMARY KEY, prediction_id TEXT, ts TIMESTAMPTZ, score DOUBLE PRECISION,
            income DOUBLE PRECISION, age DOUBLE PRECISION, region TEXT, sex TEXT);
        CREATE TABLE serving.labels (prediction_id TEXT, label INTEGER, labelled_at TIMESTAMPTZ);
        GRANT USAGE ON SCHEMA serving TO dg_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA serving TO dg_reader;
        """,
        dbname=db,
    )
    return db


def insert_predictions(server, db, first: int, count: int, **overrides) -> None:
    score = overrides.get("score", "0.25 + (i % 50) / 100.0")
    server.psql(
        "INSERT INTO serving.prediction_log (prediction_id, ts, score, income, age, region, sex) "
        f"SELECT 'p' || i, TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL '1 minute', "
        f"{score}, 1000 + i, 30 + i % 40, (ARRAY['north','south','east'])[1 + i % 3], "
        f"CASE WHEN i % 2 = 0 THEN 'male' ELSE 'female' END "
        f"FROM generate_series({first}, {first + count - 1}) AS i",
        dbname=db,
    )


def table_workspace(tmp_path, monkeypatch, server, db, **source):
    dsn = f"dbname={db} host=127.0.0.1 port={server.port} user=dg_reader"
    spec = {
        "type": "postgres",
        "dsn": dsn,
        "password_env": "SERVING_DB_PASSWORD",
        "schema": "serving",
        "table": "prediction_log",
        "cursor": "id",
        **source,
    }
    labels = {
        "type": "postgres",
        "dsn": dsn,
        "password_env": "SERVING_DB_PASSWORD",
        "schema": "serving",
        "table": "labels",
        "cursor": "labelled_at",
    }
    model = model_dict("credit", sources={"predictions": [spec], "labels": [labels]})
    monkeypatch.setenv("SERVING_DB_PASSWORD", PASSWORD)
    return make_workspace(tmp_path, monkeypatch, [model])


def test_rows_are_read_incrementally_in_batches_and_idempotently(
    tmp_path, monkeypatch, postgres_server, source_db
):
    ws = table_workspace(tmp_path, monkeypatch, postgres_server, source_db, batch_rows=40)
    model = ws.config.model("credit")
    source = model.sources.predictions[0]
    insert_predictions(postgres_server, source_db, 0, 100)
    postgres_server.psql(
        "INSERT INTO serving.labels SELECT 'p' || i, i % 2, "
        "TIMESTAMPTZ '2026-01-03 00:00:00+00' + i * INTERVAL '1 second' "
        "FROM generate_series(0, 9) AS i",
        dbname=source_db,
    )
    with ws.open_lake() as lake:
        report = ingest_model(lake, model, ws.settings)
        predictions = [b for b in report.batches if b.kind == "predictions"]
        # 100 rows in batches of 40 by id: (-inf, 40], (40, 80], (80, 100]
        assert [b.rows_read for b in predictions] == [40, 40, 20]
        assert report.as_dict()["labels_accepted"] == 10
        assert lake.fetchone("SELECT count(*) FROM predictions__credit")[0] == 100
        assert stored_position(lake, "credit", "predictions", source) == "100"

        again = ingest_model(lake, model, ws.settings)
        assert again.batches == []  # nothing new: no batch at all

        insert_predictions(postgres_server, source_db, 100, 15)
        more = ingest_model(lake, model, ws.settings)
        assert [b.rows_accepted for b in more.batches] == [15]
        assert stored_position(lake, "credit", "predictions", source) == "115"
        # oracle: the ids 1..115 of the table are each stored once
        assert lake.fetchone(
            "SELECT count(*), count(DISTINCT prediction_id) FROM predictions__credit"
        ) == (115, 115)
        (rows,) = lake.fetchone(
            "SELECT rows_read FROM source_cursors WHERE model_id = 'credit' "
            "AND kind = 'predictions'"
        )
        assert rows == 115
        ledger = lake.fetchall(
            "SELECT source_path, rows_read FROM ingest_batches WHERE kind = 'predictions' "
            "ORDER BY finished_at"
        )
        assert [r[1] for r in ledger] == [40, 40, 20, 15]
        assert "password" not in " ".join(r[0] for r in ledger)
        assert ledger[0][0].endswith("(-inf, 40]")


def test_bad_rows_are_quarantined_with_the_same_rules_as_files(
    tmp_path, monkeypatch, postgres_server, source_db
):
    ws = table_workspace(tmp_path, monkeypatch, postgres_server, source_db)
    insert_predictions(
        postgres_server, source_db, 0, 10, score="CASE WHEN i = 3 THEN 1.7 ELSE 0.5 END"
    )
    with ws.open_lake() as lake:
        report = ingest_model(lake, ws.config.model("credit"), ws.settings)
        assert report.reasons() == {"score_out_of_range": 1}
        (reason, raw) = lake.fetchone("SELECT reason, raw_json FROM quarantine")
        assert reason.startswith("score_out_of_range: score 1.7")
        assert '"prediction_id":"p3"' in raw.replace(" ", "")


def test_timestamp_cursor_with_settle_leaves_young_rows_for_later(
    tmp_path, monkeypatch, postgres_server, source_db
):
    from datetime import UTC, datetime

    ws = table_workspace(
        tmp_path, monkeypatch, postgres_server, source_db, cursor="ts", settle="30m"
    )
    insert_predictions(postgres_server, source_db, 0, 120)  # ts = 00:00 ... 01:59
    model = ws.config.model("credit")
    with ws.open_lake() as lake:
        # at 01:30, rows up to 01:00 are settled: minutes 0..60 -> 61 rows
        first = ingest_model(lake, model, ws.settings, now=datetime(2026, 1, 1, 1, 30, tzinfo=UTC))
        assert sum(b.rows_accepted for b in first.batches if b.kind == "predictions") == 61
        position = stored_position(lake, "credit", "predictions", model.sources.predictions[0])
        assert position == "2026-01-01T01:00:00+00:00"
        later = ingest_model(lake, model, ws.settings, now=datetime(2026, 1, 2, tzinfo=UTC))
        assert sum(b.rows_accepted for b in later.batches if b.kind == "predictions") == 59


def test_password_comes_from_the_environment_only(
    tmp_path, monkeypatch, postgres_server, source_db
):
    ws = table_workspace(tmp_path, monkeypatch, postgres_server, source_db)
    monkeypatch.delenv("SERVING_DB_PASSWORD")
    with ws.open_lake() as lake, pytest.raises(MissingSourceSecret, match="SERVING_DB_PASSWORD"):
        ingest_model(lake, ws.config.model("credit"), ws.settings)
    monkeypatch.setenv("SERVING_DB_PASSWORD", "wrong-" + PASSWORD)
    with ws.open_lake() as lake:
        report = ingest_model(lake, ws.config.model("credit"), ws.settings)
        failure = report.as_dict()["failures"][0]["error"]
        assert "Cannot connect" in failure and "wrong-" not in failure and PASSWORD not in failure


def test_concurrent_ingesters_of_one_table_never_double(
    tmp_path, monkeypatch, postgres_server, source_db
):
    import multiprocessing

    ws = table_workspace(tmp_path, monkeypatch, postgres_server, source_db, batch_rows=25)
    insert_predictions(postgres_server, source_db, 0, 200)
    with ws.open_lake():
        pass
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        pool.map(_ingest_in_process, [str(ws.config_path)] * 2)
    with ws.open_lake() as lake:
        assert lake.fetchone(
            "SELECT count(*), count(DISTINCT prediction_id) FROM predictions__credit"
        ) == (200, 200)
        assert lake.fetchone("SELECT count(*) FROM quarantine")[0] == 0


def _ingest_in_process(config_path: str) -> int:
    from driftguard.workspace import Workspace

    ws = Workspace.load(config_path)
    with ws.open_lake() as lake:
        return ingest_model(lake, ws.config.model("credit"), ws.settings).rows_accepted
