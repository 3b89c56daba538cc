"""The stages of a monitoring run, in order. Importing a stage module registers its stage.

Kept apart from ``monitor`` so that the run machinery does not depend on any metric, and the
order of a run is readable in one place: drift, fairness, quality, performance, risk (risk
reads the others' results, so it comes last of the metrics), then the governance stages.
Registration order depends on which module happened to be imported first (the command line
imports the risk module for ``driftguard risk``, for instance), so after importing, the
registry is put in :data:`RUN_ORDER` (a stable sort: unlisted stages keep their order, last).
"""

from __future__ import annotations

import importlib

from driftguard.monitor import STAGES

#: Modules that register a stage when imported.
STAGE_MODULES: tuple[str, ...] = (
    "driftguard.drift",
    "driftguard.metrics.fairness",
    "driftguard.metrics.quality",
    "driftguard.metrics.performance",
    "driftguard.metrics.risk",
    "driftguard.governance.policy",
    "driftguard.governance.killswitch",
)
for _module in STAGE_MODULES:
    importlib.import_module(_module)

#: Stage names in the order a run executes them.
RUN_ORDER = ("drift", "fairness", "quality", "performance", "risk", "policy", "killswitch")
STAGES.sort(key=lambda s: RUN_ORDER.index(s.name) if s.name in RUN_ORDER else len(RUN_ORDER))

__all__ = ["RUN_ORDER", "STAGES", "STAGE_MODULES"]
