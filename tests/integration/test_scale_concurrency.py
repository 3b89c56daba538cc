"""Four worker processes monitor four different models at once against one shared catalog:
every run succeeds and the audit chain stays one line (contiguous sequence, verified).

Runs on the embedded catalog, and with ``--lake postgres+s3`` on PostgreSQL + S3; the
``postgres`` case below always uses a PostgreSQL catalog (it starts the server)."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest

from driftguard import audit
from driftguard.simulate import simulate_model
from tests.helpers import make_workspace, model_dict

pytestmark = pytest.mark.slow  # four processes x (ingest + monitoring run) on two cores

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
MODELS = ("credit", "churn", "fraud", "limits")


def _ingest_and_monitor(args: tuple[str, str]) -> tuple[str, int]:
    """One worker process: ingest and monitor one model (what a flow run does)."""
    config_path, model_id = args
    from driftguard.ingest import ingest_model
    from driftguard.monitor import run_monitoring
    from driftguard.workspace import Workspace

    ws = Workspace.load(config_path)
    with ws.open_lake() as lake:
        ingest_model(lake, ws.config.model(model_id), ws.settings)
        run = run_monitoring(lake, ws.config, model_id, ws.settings, as_of=NOW)
    return run.run_id, run.n_current


def _four_models_at_once(ws) -> None:
    with ws.open_lake() as lake:
        for model in ws.config.models:
            simulate_model(model, ws.settings, lake=lake, now=NOW)
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(MODELS)) as pool:
        outcomes = pool.map(_ingest_and_monitor, [(str(ws.config_path), m) for m in MODELS])
    assert all(n > 0 for _, n in outcomes)
    with ws.open_lake() as lake:
        runs = lake.fetchall("SELECT model_id, run_id FROM monitoring_runs ORDER BY model_id")
        assert sorted(runs) == sorted(zip(MODELS, [r for r, _ in outcomes], strict=True))
        seqs = [r[0] for r in lake.fetchall("SELECT seq FROM audit_entries ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))  # one line: contiguous, no fork
        (run_entries,) = lake.fetchone(
            "SELECT count(DISTINCT run_id) FROM audit_entries WHERE run_id IN "
            "(SELECT run_id FROM monitoring_runs)"
        )
        assert run_entries == len(MODELS)  # every run is in the chain
        checkpoint = audit.write_checkpoint(lake)
        result = audit.verify(lake, checkpoints=[checkpoint])
        assert result.ok and result.size == len(seqs), result.verdict()


def _workspace(tmp_path, monkeypatch):
    return make_workspace(tmp_path, monkeypatch, [model_dict(m) for m in MODELS])


def test_four_processes_monitor_four_models_on_the_shared_lake(tmp_path, monkeypatch):
    _four_models_at_once(_workspace(tmp_path, monkeypatch))


@pytest.mark.e2e
def test_four_processes_on_a_postgres_catalog(tmp_path, monkeypatch, postgres_lake_env):
    for name, value in postgres_lake_env.items():
        monkeypatch.setenv(name, value)
    ws = _workspace(tmp_path, monkeypatch)
    _four_models_at_once(ws)
    with ws.open_lake() as lake:
        assert lake.location.backend == "postgres"
