"""``driftguard report``, ``explain``, ``export`` and ``notify`` on the shared report workspace
(tests/integration/report/conftest.py)."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from driftguard.cli import app
from driftguard.report.export import COLUMNS
from tests.helpers import PII_KEY

runner = CliRunner()


@pytest.fixture
def env(report_world, monkeypatch):
    ws = report_world.ws
    monkeypatch.setenv("DRIFTGUARD_HOME", str(ws.settings.home))
    monkeypatch.setenv("DRIFTGUARD_CONFIG", str(ws.config_path))
    monkeypatch.setenv("DRIFTGUARD_PII_KEY", PII_KEY)
    monkeypatch.delenv("DRIFTGUARD_SMTP_HOST", raising=False)
    return report_world


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_report_renders_runs_and_the_fleet(env):
    result = invoke("report", env.credit_run, env.xss_run, "--fleet", "--json")
    assert result.exit_code == 0, result.output
    rendered = json.loads(result.stdout)
    assert [m["run_id"] for m in rendered["models"]] == [env.credit_run, env.xss_run]
    assert rendered["fleet"]["path"].endswith("fleet.html")
    assert all(
        m["size_bytes"] > 10_000 and m["link"].startswith("file://") for m in rendered["models"]
    )


def test_explain_prints_every_decision(env):
    result = invoke("explain", "--model", "xss")  # the model's latest run
    assert result.exit_code == 0, result.output
    assert f"xss 1.0, run {env.xss_run}" in result.stdout
    for part in ("Measured:", "Threshold:", "Meaning:", "Done:", "Next:"):
        assert part in result.stdout
    assert "<script>alert(1)</script>: drift critical" in result.stdout  # plain text, as named
    as_json = json.loads(invoke("explain", env.credit_run, "--json").stdout)
    assert as_json["model_id"] == "credit" and as_json["narratives"]
    assert all(set(n) >= {"kind", "headline", "text"} for n in as_json["narratives"])
    wrong = invoke("explain", env.credit_run, "--model", "xss")
    assert wrong.exit_code == 2 and "monitored credit, not xss" in wrong.output


def test_export_writes_csv_parquet_and_json(env, tmp_path):
    paths = {}
    for fmt in ("csv", "parquet", "json"):
        paths[fmt] = tmp_path / f"credit.{fmt}"
        result = invoke("export", "--model", "credit", "--format", fmt, "--out", str(paths[fmt]))
        assert result.exit_code == 0, result.output
    with paths["csv"].open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    table = pq.read_table(paths["parquet"])
    records = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert table.column_names == list(COLUMNS) == list(rows[0]) == list(records[0])
    assert len(rows) == table.num_rows == len(records) > 0
    families = {r["family"] for r in records}
    assert {"drift", "fairness", "risk", "policy", "quality", "performance"} <= families
    blocked = [r for r in records if r["family"] == "policy" and r["verdict"] == "block"]
    assert blocked and blocked[0]["metric"] == "psi"  # the credit-gate rule that blocked
    # --since/--until select runs by their as-of time: the first run (2026-05-30) only
    one = invoke("export", "-m", "credit", "--until", "2026-05-31", "-f", "json", "-o", "-")
    first = json.loads(one.stdout)
    assert env.first_run in {r["run_id"] for r in first}
    assert env.credit_run not in {r["run_id"] for r in first}
    assert all(r["as_of"] < "2026-05-31" for r in first)
    stdout = invoke("export", "-m", "credit", "-f", "csv", "-o", "-", "--since", "2026-05-31")
    assert next(csv.reader(io.StringIO(stdout.stdout))) == list(COLUMNS)


def test_export_refuses_bad_options(env):
    assert invoke("export", "-m", "credit", "-f", "xml").exit_code == 2
    assert invoke("export", "-m", "credit", "-f", "parquet", "-o", "-").exit_code == 2
    unknown = invoke("export", "-m", "nope", "-f", "csv")
    assert unknown.exit_code == 2 and "not in the configuration" in unknown.output


def test_notify_send_writes_eml_files_without_smtp(env):
    result = invoke("notify", "send", env.xss_run, "--no-fleet", "--again", "--json")
    assert result.exit_code == 0, result.output
    [delivery] = json.loads(result.stdout)["deliveries"]
    assert delivery["status"] == "written" and delivery["recipients"] == ["xss-owner@example.com"]
    assert delivery["path"].endswith(".eml")
    resend = invoke("notify", "resend")
    assert resend.exit_code == 2 and "DRIFTGUARD_SMTP_HOST" in resend.output
