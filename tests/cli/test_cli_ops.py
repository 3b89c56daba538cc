"""Operations commands: runs, doctor, metrics, retention, backup and restore."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from driftguard.cli import app
from driftguard.history import finish_pipeline_run, start_pipeline_run
from tests.smtp_sink import free_port

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_runs_lists_pipeline_runs_with_statistics(workspace):
    with workspace.open_lake() as lake:
        for run_id, failed, alerts in (("p1", {}, 2), ("p2", {"churn": "bad file"}, 1)):
            start_pipeline_run(
                lake,
                pipeline_run_id=run_id,
                flow="monitor-fleet",
                name="monitor fleet (daily)",
                models=["credit", "churn"],
            )
            finish_pipeline_run(lake, run_id, failed=failed, alerts=alerts, findings=3)
    result = invoke("runs", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["pipeline_run_id"] for r in data["runs"]] == ["p2", "p1"]
    # 1 of 2 completed; alerts 2 + 1; findings 3 + 3
    assert (data["stats"]["success_rate"], data["stats"]["alerts"], data["stats"]["findings"]) == (
        0.5,
        3,
        6,
    )
    table = invoke("runs", "--status", "failed").stdout
    assert "p2" in table and "p1" not in table and "success rate 0%" in table
    assert json.loads(invoke("runs", "--monitoring", "--json").stdout) == []


def test_doctor_reports_each_check_and_exits_1_on_failure(workspace, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("DRIFTGUARD_SMTP_HOST", raising=False)
    with workspace.open_lake():
        pass  # create the lake
    result = invoke("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert result.exit_code == 0, result.output  # warnings only
    assert checks["config"]["status"] == "ok" and checks["catalog"]["status"] == "ok"
    assert checks["schema"]["status"] == "ok" and checks["disk"]["status"] == "ok"
    assert checks["prefect"]["status"] == "warn" and "driftguard serve" in checks["prefect"]["fix"]
    assert checks["audit"]["status"] in ("ok", "warn")

    # nothing listens on this port: SMTP and the Prefect API fail, with what to do
    port = free_port()
    monkeypatch.setenv("DRIFTGUARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DRIFTGUARD_SMTP_PORT", str(port))
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{port}/api")
    result = invoke("doctor")
    assert result.exit_code == 1
    assert (
        "fail smtp" in " ".join(result.stdout.split()) and "DRIFTGUARD_SMTP_HOST" in result.stdout
    )
    assert "2 failure(s)" in result.stdout and "fix smtp, prefect" in result.stdout


def test_doctor_fails_on_a_broken_config(tmp_path, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: []\nbogus: 1\n")
    monkeypatch.setenv("DRIFTGUARD_CONFIG", str(bad))
    monkeypatch.setenv("DRIFTGUARD_HOME", str(tmp_path / "home"))
    result = invoke("doctor", "--json")
    checks = {c["name"]: c["status"] for c in json.loads(result.stdout)}
    assert result.exit_code == 1
    assert checks["config"] == "fail" and checks["catalog"] == "skipped"


@pytest.mark.slow  # make e2e: command plumbing; the restore drill itself runs in make test
def test_metrics_backup_restore_and_retention_commands(workspace, tmp_path):
    with workspace.open_lake():
        pass  # an empty lake: the commands' plumbing is what is tested here
    shown = invoke("metrics", "--print").stdout
    assert 'driftguard_model_rows_ingested{model="credit"} 0' in shown
    out = tmp_path / "m" / "x.prom"
    assert invoke("metrics", "--out", str(out)).exit_code == 0 and out.read_text().startswith("#")

    result = invoke("retention", "--dry-run", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["models"] == []  # none configured

    result = invoke("backup", str(tmp_path / "b"), "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["checkpoint"].startswith("driftguard-audit-checkpoint/1 ")
    assert invoke("restore", str(tmp_path / "b")).exit_code == 2  # a lake is there: refused
    result = invoke("restore", str(tmp_path / "b"), "--force", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["moved_aside"]
    assert invoke("status").exit_code == 0
