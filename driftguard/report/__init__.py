"""HTML compliance reports: per-model and fleet pages, narratives, charts, e-mail content.

Public API (names and signatures are a contract with the Prefect tasks)::

    from driftguard.report import render_run_report, render_fleet_report, explain_run

    render_run_report(lake, config, settings, run_id) -> ReportFile
    render_fleet_report(lake, config, settings, run_ids) -> ReportFile
    explain_run(lake, config, run_id) -> list[Narrative]

Modules: :mod:`~driftguard.report.context` gathers a report's data from the lake at the
run's snapshot; :mod:`~driftguard.report.narrative` explains decisions in plain words;
:mod:`~driftguard.report.render` writes the HTML (templates in the ``reports`` package);
:mod:`~driftguard.report.charts` draws inline SVG; :mod:`~driftguard.report.grades` maps risk
scores to grades; :mod:`~driftguard.report.mail` builds and delivers the e-mails;
:mod:`~driftguard.report.export` writes metric history for analysts. The heavy names load on
first use, so ``import driftguard.report.charts`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftguard.report.narrative import Narrative
    from driftguard.report.render import (
        ReportFile,
        explain_run,
        render_fleet_report,
        render_run_report,
        write_index,
    )

_LAZY = {
    "ReportFile": "driftguard.report.render",
    "explain_run": "driftguard.report.render",
    "render_fleet_report": "driftguard.report.render",
    "render_run_report": "driftguard.report.render",
    "write_index": "driftguard.report.render",
    "Narrative": "driftguard.report.narrative",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'driftguard.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "Narrative",
    "ReportFile",
    "explain_run",
    "render_fleet_report",
    "render_run_report",
    "write_index",
]
