"""Governance fixtures: a workspace with roles, and runs whose summaries we choose."""

from __future__ import annotations

from typing import Any

import pytest

from driftguard.monitor import run_monitoring
from driftguard.store import Lake
from tests.helpers import make_workspace, model_dict

ROLES = {
    "admin": ["alice"],
    "ml_engineer": ["olivia", "bob"],  # olivia owns the models (tests.helpers.model_dict)
    "approver": ["carol", "dave", "olivia"],
    "on_call": ["erin"],
    "viewer": ["frank"],
}


class SummaryStage:
    """A stage that reports a chosen summary, standing in for the metric stages."""

    def __init__(self, name: str, summary: dict[str, Any]):
        self.name = name
        self._summary = summary

    def compute(self, lake: Lake, ctx: Any, results: dict[str, Any]) -> dict[str, Any]:
        return self._summary

    def store(self, lake: Lake, ctx: Any, result: Any, results: dict[str, Any]) -> None:
        return None

    def summary(self, result: dict[str, Any]) -> dict[str, Any]:
        return result


@pytest.fixture
def ws(tmp_path, monkeypatch):
    import yaml

    workspace = make_workspace(
        tmp_path, monkeypatch, [model_dict("credit"), model_dict("churn", model_type="churn")]
    )
    data = yaml.safe_load(workspace.config_path.read_text())
    data["roles"] = ROLES
    data["governance"] = {"required_approvals": {"credit-scoring": 2}}
    workspace.config_path.write_text(yaml.safe_dump(data))
    from driftguard.workspace import Workspace

    return Workspace.load(workspace.config_path)


@pytest.fixture
def lake(ws):
    with ws.open_lake() as opened:
        yield opened


def monitored(lake: Lake, ws: Any, model_id: str, **summaries: dict[str, Any]):
    """A monitoring run of ``model_id`` whose stages report ``summaries`` (then the policy)."""
    from driftguard.governance.policy import PolicyStage

    stages = [SummaryStage(name, s) for name, s in summaries.items()] + [PolicyStage()]
    return run_monitoring(lake, ws.config, model_id, ws.settings, stages=stages, force=True)
