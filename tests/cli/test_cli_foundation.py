"""The command line: init, simulate, ingest, status, config check/schema; exit codes and JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from driftguard.cli import app
from tests.helpers import good_row, landing, write_rows

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_writes_a_valid_example(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFTGUARD_HOME", str(tmp_path / "home"))
    target = tmp_path / "dg.yaml"
    assert invoke("init", str(target)).exit_code == 0
    result = invoke("config", "check", str(target), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["models"] == ["credit-risk", "churn", "fraud"]
    assert invoke("init", str(target)).exit_code == 2  # refuses to overwrite


def test_config_check_lists_problems_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - id: BAD\n    owner: o\n    purpose: p\n    features: {x: nope}\n")
    result = invoke("config", "check", str(bad))
    assert result.exit_code == 2
    assert "models[0].id" in result.stdout and "models[0].features.x.kind" in result.stdout


def test_config_schema_is_json_schema():
    schema = json.loads(invoke("config", "schema").stdout)
    assert schema["title"] == "driftguard.yaml" and "models" in schema["properties"]


def test_simulate_ingest_status_round_trip(workspace):
    result = invoke("simulate", "--model", "credit", "--json")
    assert result.exit_code == 0, result.output
    simulated = json.loads(result.stdout)[0]
    result = invoke("ingest", "--json")
    assert result.exit_code == 0, result.output
    reports = {r["model_id"]: r for r in json.loads(result.stdout)}
    assert reports["credit"]["predictions_accepted"] == simulated["rows"]
    status = json.loads(invoke("status", "--json").stdout)
    rows = {m["model_id"]: m["rows"] for m in status["models"]}
    assert rows == {"credit": simulated["rows"], "churn": 0}
    assert status["snapshot_id"] > 0
    assert status["lake"].startswith("catalog ")  # where the lake lives, never a password
    again = invoke("simulate", "--model", "credit")  # refused: logs exist
    assert again.exit_code == 1 and "never adds" in again.output


def test_ingest_exits_1_when_a_file_fails(workspace):
    folder = landing(workspace, "credit")
    folder.mkdir(parents=True)
    (folder / "broken.parquet").write_bytes(b"junk")
    write_rows(folder / "ok.parquet", [good_row(1)])
    result = invoke("ingest")
    assert result.exit_code == 1 and "broken.parquet" in result.stdout


def test_unknown_model_is_a_usage_error_with_a_hint(workspace):
    result = invoke("ingest", "--model", "nope")
    assert result.exit_code == 2
    assert "Model 'nope' is not in the configuration. Known: credit, churn." in result.output
    assert "driftguard status" in result.output


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_command_has_help_with_an_example():
    from typer.main import get_command

    missing = [
        " ".join(path)
        for path, command in _commands(get_command(app))
        if "Example:" not in (command.help or "")
    ]
    assert missing == []


def test_importing_driftguard_leaves_prefect_unloaded():
    code = (
        "import sys, driftguard, driftguard.ingest, driftguard.cli, driftguard.simulate;"
        "assert 'prefect' not in sys.modules, 'prefect imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("args", [["--help"], ["ingest", "--help"], ["config", "--help"]])
def test_help_works(args):
    assert invoke(*args).exit_code == 0
