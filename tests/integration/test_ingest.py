"""Ingestion: validation rules with reasons, quarantine, idempotency, atomicity, concurrency."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

import pytest

from driftguard import ingest as ingest_module
from driftguard.config import parse_config
from driftguard.ingest import MissingPIIKey, ingest_model, pseudonymise
from driftguard.schema import ensure_model_tables
from driftguard.status import model_status
from driftguard.workspace import Workspace
from tests.helpers import PII_KEY, good_row, landing, make_workspace, model_dict, write_rows


def run(ws: Workspace, model_id: str = "credit"):
    with ws.open_lake() as lake:
        return ingest_model(lake, ws.config.model(model_id), ws.settings, base=ws.base)


def quarantine(ws: Workspace) -> list[tuple[int, str]]:
    with ws.open_lake() as lake:
        return lake.fetchall("SELECT row_number, reason FROM quarantine ORDER BY row_number")


def count(ws: Workspace, table: str) -> int:
    with ws.open_lake() as lake:
        return lake.fetchone(f"SELECT count(*) FROM {table}")[0]


@pytest.mark.parametrize(
    ("bad", "code", "text"),
    [
        ({"prediction_id": None}, "missing_id", "prediction id is empty"),
        ({"prediction_id": "  "}, "missing_id", "prediction id is empty"),
        ({"ts": None}, "missing_timestamp", "timestamp is missing"),
        ({"ts": "yesterday-ish"}, "bad_timestamp", "'yesterday-ish' is not a date-time"),
        ({"ts": "2999-01-01T00:00:00Z"}, "future_timestamp", "is after the ingestion time"),
        ({"score": None}, "missing_score", "score is missing"),
        ({"score": "high"}, "bad_score", "score value 'high' is not a number"),
        ({"score": "nan"}, "nan_score", "score is NaN"),
        ({"score": "inf"}, "infinite_score", "score is infinite"),
        ({"score": "1.7"}, "score_out_of_range", "score 1.7 is outside [0, 1]"),
        ({"score": "-0.1"}, "score_out_of_range", "score -0.1 is outside [0, 1]"),
        ({"income": "lots"}, "bad_feature", "feature 'income' value 'lots' is not a number"),
        ({"income": "inf"}, "bad_feature", "feature 'income' is infinite"),
    ],
)
def test_each_rule_quarantines_with_its_reason(workspace, bad, code, text):
    rows = [good_row(1), good_row(2, **bad), good_row(3)]
    # CSV keeps every value as text, exactly as a log shipper would write it
    write_rows(
        landing(workspace, "credit") / "batch.csv",
        [{k: ("" if v is None else v) for k, v in r.items()} for r in rows],
    )
    credit = model_dict("credit")
    credit["sources"]["predictions"] = [{"path": "{home}/landing/credit/predictions/*.csv"}]
    ws = make_workspace(workspace.config_path.parent, pytest.MonkeyPatch(), [credit])
    report = run(ws)
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (3, 2, 1)
    [(row_number, reason)] = quarantine(ws)
    assert row_number == 2
    assert reason.startswith(f"{code}: ") and text in reason
    assert report.reasons() == {code: 1}


def test_duplicates_within_a_file_keep_the_first(workspace):
    rows = [good_row(1), good_row(2), good_row(1, score=0.9)]
    write_rows(landing(workspace, "credit") / "a.parquet", rows)
    report = run(workspace)
    assert report.rows_accepted == 2
    assert quarantine(workspace) == [
        (3, "duplicate_id: prediction id p1 repeats row 1 of this file")
    ]


def test_missing_required_column_quarantines_every_row(workspace):
    rows = [{k: v for k, v in good_row(i).items() if k != "sex"} for i in range(3)]
    write_rows(landing(workspace, "credit") / "a.parquet", rows)
    report = run(workspace)
    assert report.rows_accepted == 0 and report.rows_quarantined == 3
    assert {reason for _, reason in quarantine(workspace)} == {
        "missing_column: required column(s) 'sex' absent from the file"
    }


def test_quarantine_keeps_the_raw_row(workspace):
    write_rows(landing(workspace, "credit") / "a.parquet", [good_row(1, score=3.0)])
    run(workspace)
    with workspace.open_lake() as lake:
        (raw,) = lake.fetchone("SELECT raw_json FROM quarantine")
    assert json.loads(raw)["score"] == 3.0 and json.loads(raw)["prediction_id"] == "p1"


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_parquet_csv_and_json_lines(tmp_path, monkeypatch, suffix):
    model = model_dict("credit")
    model["sources"]["predictions"] = [{"path": f"{{home}}/landing/in/*{suffix}"}]
    ws = make_workspace(tmp_path, monkeypatch, [model])
    write_rows(ws.settings.home / "landing" / "in" / f"a{suffix}", [good_row(i) for i in range(5)])
    report = run(ws)
    assert report.rows_accepted == 5 and report.rows_quarantined == 0
    assert count(ws, "predictions__credit") == 5


def test_reingest_adds_nothing(workspace):
    folder = landing(workspace, "credit")
    write_rows(folder / "a.parquet", [good_row(i) for i in range(4)])
    first = run(workspace)
    second = run(workspace)
    assert first.count("ingested") == 1 and second.count("skipped") == 1
    # the same bytes under another name: skipped by checksum
    shutil.copy(folder / "a.parquet", folder / "a-copy.parquet")
    assert run(workspace).count("skipped") == 2
    # other bytes repeating known ids: quarantined as already ingested, not stored twice
    write_rows(folder / "b.parquet", [good_row(i, score=0.9) for i in range(2)] + [good_row(9)])
    third = run(workspace)
    assert third.reasons() == {"already_ingested": 2}
    assert count(workspace, "predictions__credit") == 5
    with workspace.open_lake() as lake:
        assert lake.fetchone("SELECT count(*) FROM ingest_batches")[0] == 2


def test_failure_mid_batch_leaves_the_lake_unchanged(workspace, monkeypatch):
    write_rows(landing(workspace, "credit") / "a.parquet", [good_row(1), good_row(2, score=5)])
    with workspace.open_lake() as lake:
        ensure_model_tables(lake, workspace.config.model("credit"))
        before = lake.snapshot_id()

    def explode(*args, **kwargs):
        raise OSError("disk vanished after the rows were inserted")

    monkeypatch.setattr(ingest_module, "_move_watermark", explode)
    with pytest.raises(OSError, match="disk vanished"):
        run(workspace)
    with workspace.open_lake() as lake:
        assert lake.snapshot_id() == before
        for table in (
            "predictions__credit",
            "labels__credit",
            "quarantine",
            "ingest_batches",
            "source_watermarks",
        ):
            assert lake.fetchone(f"SELECT count(*) FROM {table}")[0] == 0, table
    monkeypatch.undo()
    assert run(workspace).rows_accepted == 1  # the same file goes through once fixed


def test_unreadable_file_fails_alone(workspace):
    folder = landing(workspace, "credit")
    (folder).mkdir(parents=True)
    (folder / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    write_rows(folder / "ok.parquet", [good_row(1)])
    report = run(workspace)
    assert [b.status for b in report.batches] == ["failed", "ingested"]
    assert "Cannot read" in report.failed[0].message
    assert count(workspace, "predictions__credit") == 1


def test_files_still_being_written_are_skipped(workspace):
    folder = landing(workspace, "credit")
    write_rows(folder / ".hidden.parquet", [good_row(1)])
    write_rows(folder / "x.parquet", [good_row(2)])
    (folder / "y.parquet.tmp").write_bytes(b"partial")
    write_rows(folder / ".tmp-writer" / "z.parquet", [good_row(3)])
    assert run(workspace).rows_accepted == 1


def test_late_labels_join_their_predictions(workspace):
    write_rows(landing(workspace, "credit") / "a.parquet", [good_row(i) for i in range(4)])
    run(workspace)
    labels = landing(workspace, "credit", "labels")
    write_rows(
        labels / "day1.csv",
        [
            {"prediction_id": "p0", "label": 1, "labelled_at": "2026-01-10T00:00:00Z"},
            {"prediction_id": "p1", "label": 0, "labelled_at": "2026-01-10T00:00:00Z"},
            {"prediction_id": "p1", "label": 1, "labelled_at": "2026-01-11T00:00:00Z"},  # dup
            {"prediction_id": "p2", "label": 7, "labelled_at": "2026-01-10T00:00:00Z"},  # bad
        ],
    )
    report = run(workspace)
    assert report.reasons() == {"bad_label": 1, "duplicate_id": 1}
    write_rows(
        labels / "day2.csv",
        [
            {
                "prediction_id": "p1",
                "label": 1,
                "labelled_at": "2026-01-12T00:00:00Z",
            },  # correction
            {"prediction_id": "p3", "label": 0, "labelled_at": "2026-01-12T00:00:00Z"},
        ],
    )
    run(workspace)
    with workspace.open_lake() as lake:
        joined = dict(
            lake.fetchall(
                "SELECT p.prediction_id, l.label FROM predictions__credit p LEFT JOIN ("
                "SELECT prediction_id, arg_max(label, labelled_at) AS label FROM labels__credit "
                "GROUP BY 1) l USING (prediction_id) ORDER BY 1"
            )
        )
        status = {s.model_id: s for s in model_status(lake, workspace.config)}
    assert joined == {"p0": 1.0, "p1": 1.0, "p2": None, "p3": 0.0}
    assert status["credit"].label_coverage == 0.75  # 3 of 4 predictions labelled


def test_personal_data_is_pseudonymised(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path, monkeypatch, [model_dict("credit", personal_data=["customer"])])
    write_rows(
        landing(ws, "credit") / "a.parquet",
        [good_row(1, customer="alice@example.com"), good_row(2, customer=None)],
    )
    run(ws)
    with ws.open_lake() as lake:
        stored = [
            r[0]
            for r in lake.fetchall(
                "SELECT customer FROM predictions__credit ORDER BY prediction_id"
            )
        ]
    # oracle: Python's hmac module (RFC 2104), independent of the SQL used at ingestion
    assert stored == [pseudonymise("alice@example.com", PII_KEY), None]
    assert len(pseudonymise("x" * 100, "k" * 100)) == 64


def test_personal_data_without_a_key_is_refused(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path, monkeypatch, [model_dict("credit", personal_data=["customer"])])
    monkeypatch.delenv("DRIFTGUARD_PII_KEY")
    ws = Workspace.load(ws.config_path)
    with pytest.raises(MissingPIIKey, match="DRIFTGUARD_PII_KEY is not set"):
        run(ws)


def test_new_features_add_columns_and_keep_history(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path, monkeypatch, [model_dict("credit")])
    write_rows(landing(ws, "credit") / "a.parquet", [good_row(1)])
    run(ws)
    grown = model_dict("credit")
    grown["features"]["tenure"] = "numeric"
    ws2 = make_workspace(tmp_path, monkeypatch, [grown])
    write_rows(landing(ws2, "credit") / "b.parquet", [good_row(2, tenure=3.0)])
    assert run(ws2).rows_accepted == 1
    with ws2.open_lake() as lake:
        assert lake.fetchall(
            "SELECT prediction_id, tenure FROM predictions__credit ORDER BY 1"
        ) == [("p1", None), ("p2", 3.0)]


def _ingest_in_process(args: tuple[str, str]) -> int:
    config_path, model_id = args
    ws = Workspace.load(config_path)
    with ws.open_lake() as lake:
        return ingest_model(lake, ws.config.model(model_id), ws.settings).rows_accepted


def test_two_processes_ingest_different_models_at_once(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path, monkeypatch)
    for model_id in ("credit", "churn"):
        for part in range(6):
            write_rows(
                landing(ws, model_id) / f"{part}.parquet",
                [good_row(part * 100 + i) for i in range(50)],
            )
    with ws.open_lake():
        pass  # create the lake first, so the test is about ingestion, not migration
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        accepted = pool.map(
            _ingest_in_process, [(str(ws.config_path), "credit"), (str(ws.config_path), "churn")]
        )
    assert accepted == [300, 300]
    assert count(ws, "predictions__credit") == count(ws, "predictions__churn") == 300
    with ws.open_lake() as lake:
        assert lake.fetchone("SELECT count(*) FROM ingest_batches")[0] == 12


def test_the_same_model_from_two_processes_never_doubles(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path, monkeypatch)
    for part in range(4):
        write_rows(
            landing(ws, "credit") / f"{part}.parquet", [good_row(part * 100 + i) for i in range(50)]
        )
    with ws.open_lake():
        pass
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        accepted = pool.map(_ingest_in_process, [(str(ws.config_path), "credit")] * 2)
    assert sum(accepted) == 200
    assert count(ws, "predictions__credit") == 200


def test_model_ids_cannot_reach_sql_unchecked():
    from driftguard.sql import model_table, quote_ident

    with pytest.raises(ValueError):
        model_table("x; DROP TABLE quarantine", "predictions")
    assert quote_ident('we"ird <b>name</b>') == '"we""ird <b>name</b>"'
    parse_config({"models": [model_dict(features={'a"b': "numeric"})]})  # quoted, so allowed


def test_paths_in_config_are_relative_to_the_config_file(tmp_path, monkeypatch):
    model = model_dict("credit")
    model["sources"]["predictions"] = [{"path": "logs/*.parquet"}]
    ws = make_workspace(tmp_path, monkeypatch, [model])
    write_rows(Path(ws.base) / "logs" / "a.parquet", [good_row(1)])
    assert run(ws).rows_accepted == 1
