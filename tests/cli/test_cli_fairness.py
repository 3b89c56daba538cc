"""``driftguard fairness`` on a plain file and ``driftguard risk`` from the lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from driftguard.cli import app
from driftguard.ingest import ingest_model
from driftguard.monitor import run_monitoring
from driftguard.simulate import simulate_model

runner = CliRunner()
COMPAS = (
    Path(__file__).resolve().parents[1] / "data" / "compas" / "compas-scores-two-years-extract.csv"
)
NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_fairness_on_compas_reports_propublica_rates_and_exits_1():
    result = invoke(
        "fairness",
        "--data",
        str(COMPAS),
        "--prediction",
        "decile_score",
        "--threshold",
        "5",
        "--label",
        "two_year_recid",
        "--protected",
        "race,sex",
        "--favourable",
        "1",
        "--json",
    )
    # findings (race disparities) exit 1, like every command with findings
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert set(data["attributes"]) == {"race", "sex", "race × sex"}
    groups = {g["group"]: g for g in data["attributes"]["race"]["groups"]}
    # ProPublica's table: FPR 44.85% (Black) and 23.45% (White); see tests/data/compas/README.md
    assert (
        round(100 * groups["African-American"]["rates"]["false_positive_rate"]["value"], 2) == 44.85
    )
    assert round(100 * groups["Caucasian"]["rates"]["false_positive_rate"]["value"], 2) == 23.45
    assert any(f.startswith("race: ") for f in data["findings"])


def test_fairness_human_output_and_a_clean_file(tmp_path):
    import pandas as pd

    path = tmp_path / "fair.parquet"
    # identical selection rates in both groups (50%): nothing to report
    pd.DataFrame({"y": [0, 1] * 40, "g": ["a"] * 40 + ["b"] * 40}).to_parquet(path)
    result = invoke("fairness", "--data", str(path), "--prediction", "y", "--protected", "g")
    assert result.exit_code == 0, result.stdout
    assert "Fairness by g" in result.stdout and "demographic_parity_ratio" in result.stdout


def test_fairness_usage_errors_exit_2(tmp_path):
    result = runner.invoke(
        app,
        ["fairness", "--data", str(COMPAS), "--prediction", "decile_score", "--protected", "nope"],
    )
    assert result.exit_code == 2
    assert "protected column 'nope' not found" in result.output
    result = runner.invoke(
        app,
        [
            "fairness",
            "--data",
            str(COMPAS),
            "--prediction",
            "x",
            "--protected",
            "race",
            "--favourable",
            "2",
        ],
    )
    assert result.exit_code == 2


def test_risk_shows_the_latest_score_breakdown_and_history(workspace):
    with workspace.open_lake() as lake:
        model = workspace.config.model("credit")
        simulate_model(model, workspace.settings, lake=lake, now=NOW)
        ingest_model(lake, model, workspace.settings)
        run = run_monitoring(lake, workspace.config, "credit", workspace.settings, as_of=NOW)
    result = invoke("risk", "-m", "credit", "--json")
    items = json.loads(result.stdout)
    assert [i["run_id"] for i in items] == [run.run_id]
    assert items[0]["status"] == run.summary["risk"]["status"]
    assert result.exit_code == (0 if items[0]["status"] == "HEALTHY" else 1)
    human = invoke("risk", "-m", "credit")
    assert "Breakdown" in human.stdout and "history (oldest first)" in human.stdout
    # a model that was never scored is simply absent
    assert json.loads(invoke("risk", "-m", "churn", "--json").stdout) == []
    assert runner.invoke(app, ["risk", "-m", "nope"]).exit_code == 2


def test_config_check_reports_a_protected_attribute_missing_from_the_logs(workspace):
    from tests.helpers import good_row, landing, write_rows

    rows = [{k: v for k, v in good_row(i).items() if k != "sex"} for i in range(3)]
    write_rows(landing(workspace, "credit") / "day1.parquet", rows)
    result = invoke("config", "check", str(workspace.config_path), "--json")
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 1
    assert problems[0].startswith(
        "models[0].protected_attributes: protected attribute 'sex' is not a column of the "
        "newest prediction log"
    )
    # logs that carry the attribute pass
    write_rows(landing(workspace, "churn") / "day1.parquet", [good_row(i) for i in range(3)])
    (landing(workspace, "credit") / "day1.parquet").unlink()
    assert invoke("config", "check", str(workspace.config_path)).exit_code == 0
