"""``driftguard drift`` on two files, and the ranked drift table of ``driftguard monitor``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from driftguard.cli import app
from driftguard.metrics.drift import UNKNOWN_METHOD_MESSAGE

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(4)
    n = 800
    ref = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "age": rng.integers(18, 80, n),
            "region": rng.choice(["n", "s", "e"], n),
            "<script>x</script>": rng.random(n),
        }
    )
    cur = pd.DataFrame(
        {
            "income": rng.normal(58, 10, n),  # +0.8 sd
            "age": rng.integers(18, 80, n),
            "region": rng.choice(["n", "s", "w"], n),  # "w" is new
            "<script>x</script>": rng.random(n),
        }
    )
    cur.loc[:79, "income"] = np.nan  # 10% missing
    ref_path, cur_path = tmp_path / "ref.parquet", tmp_path / "cur.csv"
    ref.to_parquet(ref_path)
    cur.to_csv(cur_path, index=False)
    return ref_path, cur_path


def test_drift_compares_two_files_and_exits_1_on_drift(files):
    ref, cur = files
    result = invoke("drift", "--reference", str(ref), "--current", str(cur), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    columns = {c["column"]: c for c in data["columns"]}
    assert set(columns) == {"income", "age", "region", "<script>x</script>"}
    # 800 reference rows <= 1,000: statistical tests by default
    assert columns["income"]["method"] == "ks" and columns["income"]["verdict"] == "critical"
    assert columns["region"]["method"] == "chi_square"
    assert columns["region"]["unseen_examples"][0][0] == "w"
    assert columns["income"]["cur_missing_share"] == pytest.approx(0.1)  # hand: 80 / 800
    assert data["summary"]["n_features"] == 4
    assert data["columns"][0]["column"] in {"income", "region"}  # most drifted first


def test_drift_table_output(files):
    ref, cur = files
    result = invoke(
        "drift", "--reference", str(ref), "--current", str(cur), "--features", "income,age"
    )
    assert result.exit_code == 1
    assert "income" in result.stdout and "age" in result.stdout and "region" not in result.stdout
    assert "income: missing values rose from 0.0% to 10.0% of rows" in result.stdout


def test_identical_files_exit_0(files):
    ref, _ = files
    result = invoke(
        "drift", "--reference", str(ref), "--current", str(ref), "--method", "psi", "--json"
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["summary"]["n_drifted"] == 0 and data["summary"]["max_psi"] == 0.0


def test_method_and_column_errors_are_usage_errors(files):
    ref, cur = files
    result = invoke("drift", "--reference", str(ref), "--current", str(cur), "--method", "pis")
    assert result.exit_code == 2
    expected = UNKNOWN_METHOD_MESSAGE.format(
        name="pis", available="chi_square, jensen_shannon, kl, ks, psi, wasserstein, z_test"
    )
    assert expected in result.output
    result = invoke("drift", "--reference", str(ref), "--current", str(cur), "-f", "nope")
    assert result.exit_code == 2 and "'nope' are not in both files" in result.output
    result = invoke(
        "drift", "--reference", str(ref), "--current", str(ref.parent / "missing.parquet")
    )
    assert result.exit_code == 1 and "does not exist" in result.output


def test_numeric_codes_can_be_categories(tmp_path):
    ref = pd.DataFrame({"plan": [1, 2] * 100})
    cur = pd.DataFrame({"plan": [1] * 150 + [2] * 50})
    ref.to_parquet(tmp_path / "a.parquet")
    cur.to_parquet(tmp_path / "b.parquet")
    result = invoke(
        "drift",
        "--reference",
        str(tmp_path / "a.parquet"),
        "--current",
        str(tmp_path / "b.parquet"),
        "--categorical",
        "plan",
        "--json",
    )
    (column,) = json.loads(result.stdout)["columns"]
    # two categories, 200 reference rows: the Z-test; hand: p_r = 0.5, p_c = 0.75
    assert column["kind"] == "categorical" and column["method"] == "z_test"
    assert column["details"]["current_share"] == 0.75


def test_monitor_prints_a_ranked_drift_table(workspace):
    assert invoke("simulate", "--model", "credit", "--drift", "income=1.0").exit_code == 0
    assert invoke("ingest").exit_code == 0
    result = invoke("monitor", "--model", "credit")
    assert "Drift of credit, most drifted feature first" in result.stdout
    lines = result.stdout.splitlines()
    income = next(i for i, line in enumerate(lines) if "│ income" in line or " income " in line)
    age = next(i for i, line in enumerate(lines) if " age " in line)
    assert income < age  # the shifted feature ranks first
