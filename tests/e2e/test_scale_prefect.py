"""Scale-out against a real Prefect server: the partitioned run on a local Dask cluster of two
workers equals the single-process run, and a fleet fans out over two worker processes of one
work pool, each running flow runs concurrently, on the shared lake (PostgreSQL + S3 with
``--lake postgres+s3``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from driftguard import audit
from driftguard.ingest import ingest_model
from driftguard.monitor import run_monitoring
from driftguard.serve import WORK_POOL, LocalStack, api_request, prefect_executable, run_deployment
from driftguard.simulate import simulate_model
from tests.helpers import comparable_summary, make_workspace, model_dict
from tests.smtp_sink import free_port

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A Prefect server on 127.0.0.1 (its API in PREFECT_API_URL for child processes)."""
    env = {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_LOGGING_LEVEL": "INFO"}
    local = LocalStack(
        home=tmp_path / "stack", port=free_port(), env=env, log_dir=tmp_path / "logs"
    )
    try:
        local.start_server(timeout=240)
        yield local
    finally:
        local.stop()
        for log in sorted((tmp_path / "logs").glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")


def _rows(lake, table, run_id):
    rows = lake.records(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY ALL", [run_id])
    return [{k: v for k, v in r.items() if k not in {"run_id", "created_at"}} for r in rows]


def test_dask_partitions_on_two_workers_equal_the_single_process_run(tmp_path, monkeypatch, server):
    from distributed import Client, LocalCluster

    ws = make_workspace(tmp_path, monkeypatch, [model_dict("credit")])
    with ws.open_lake() as lake:
        simulate_model(ws.config.model("credit"), ws.settings, lake=lake, now=NOW)
        ingest_model(lake, ws.config.model("credit"), ws.settings)
    # Dask worker processes report their task runs to the server: they inherit this
    monkeypatch.setenv("PREFECT_API_URL", server.url)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-client"))
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    try:
        script = (
            "import json, sys\n"
            "from datetime import datetime\n"
            "from flows.scale import DaskCluster, monitor_one_model\n"
            "run = monitor_one_model('credit', sys.argv[1], ingest=False, "
            "dask=DaskCluster(address=sys.argv[2], partitions=4), "
            "as_of=datetime.fromisoformat(sys.argv[3]))\n"
            "print(json.dumps({'run_id': run['run_id']}))\n"
        )
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                str(ws.config_path),
                cluster.scheduler_address,
                NOW.isoformat(),
            ],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        dask_run_id = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    finally:
        client.close()
        cluster.close()
    # both workers of the cluster ran slices (12 in all: 4 each of the reference and current
    # drift histograms and of the fairness counts)
    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed
    assert sum(executed.values()) == 12
    task_runs = api_request(server.url, "POST", "/task_runs/filter", {})
    names = sorted(t["name"] for t in task_runs if t["name"].startswith(("drift", "fairness")))
    assert names == sorted(
        [f"drift reference credit {i}/4" for i in range(1, 5)]
        + [f"drift current credit {i}/4" for i in range(1, 5)]
        + [f"fairness credit {i}/4" for i in range(1, 5)]
    )
    with ws.open_lake() as lake:
        dask_run = lake.records(
            "SELECT summary_json FROM monitoring_runs WHERE run_id = ?", [dask_run_id]
        )[0]
        single = run_monitoring(lake, ws.config, "credit", ws.settings, as_of=NOW, force=True)
        assert comparable_summary(json.loads(dask_run["summary_json"])) == comparable_summary(
            json.loads(json.dumps(single.summary, default=str, sort_keys=True))
        )
        for table in ("drift_results", "fairness_groups", "fairness_metrics"):
            assert _rows(lake, table, dask_run_id) == _rows(lake, table, single.run_id), table


MODELS = ("credit", "churn", "fraud", "limits")


def test_a_fleet_fans_out_over_two_workers_running_flow_runs_concurrently(
    tmp_path, monkeypatch, server
):
    ws = make_workspace(tmp_path, monkeypatch, [model_dict(m) for m in MODELS])
    with ws.open_lake() as lake:
        for model in ws.config.models:
            simulate_model(model, ws.settings, lake=lake)
    server.env.update(
        {
            "DRIFTGUARD_CONFIG": str(ws.config_path),
            "DRIFTGUARD_HOME": str(ws.settings.home),
            "PREFECT_WORKER_QUERY_SECONDS": "2",
        }
    )
    env = server.child_env()
    for args in (
        ["work-pool", "create", WORK_POOL, "--type", "process"],
        ["--no-prompt", "deploy", "--all", "--prefect-file", "prefect-scale.yaml"],
    ):
        done = subprocess.run(
            [prefect_executable(), *args],
            env=env,
            cwd=env["DRIFTGUARD_PROJECT_DIR"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    for i in (1, 2):  # two worker processes on one pool, each running up to 3 flow runs
        server._spawn(
            f"worker-{i}",
            [
                prefect_executable(),
                "worker",
                "start",
                "--pool",
                WORK_POOL,
                "--name",
                f"scale-worker-{i}",
                "--limit",
                "3",
            ],
        )
    fanout = run_deployment(
        server.url,
        "monitor-fleet-fanout/scale",
        {"config_path": str(ws.config_path), "models": list(MODELS)},
        timeout=900,
    )
    assert fanout["state"]["type"] == "COMPLETED", fanout["state"]
    children = [
        r
        for r in api_request(server.url, "POST", "/flow_runs/filter", {})
        if r["parameters"].get("model_id") in MODELS
    ]
    assert sorted(r["parameters"]["model_id"] for r in children) == sorted(MODELS)
    assert {r["state"]["type"] for r in children} == {"COMPLETED"}
    # several worker processes took runs, and runs overlapped in time
    hosts = {r["infrastructure_pid"] for r in children}
    logs = "".join(
        (tmp_path / "logs" / f"worker-{i}.log").read_text(errors="replace") for i in (1, 2)
    )
    by_worker = {
        i: sum(
            r["id"] in (tmp_path / "logs" / f"worker-{i}.log").read_text(errors="replace")
            for r in children
        )
        for i in (1, 2)
    }
    assert all(by_worker.values()), (by_worker, logs[-2000:])
    spans = sorted(
        (datetime.fromisoformat(r["start_time"]), datetime.fromisoformat(r["end_time"]))
        for r in children
    )
    overlapping = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert overlapping >= 2, spans
    assert len(hosts) == len(children)  # one process per flow run
    with ws.open_lake() as lake:
        runs = lake.fetchall("SELECT model_id FROM monitoring_runs ORDER BY 1")
        assert [r[0] for r in runs] == sorted(MODELS)
        seqs = [r[0] for r in lake.fetchall("SELECT seq FROM audit_entries ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))
        checkpoint = audit.write_checkpoint(lake)
        result = audit.verify(lake, checkpoints=[checkpoint])
        assert result.ok and result.size == len(seqs), result.verdict()
    print(f"runs per worker: {by_worker}, most runs at once: {overlapping}")
