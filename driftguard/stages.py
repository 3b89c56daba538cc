"""The stages of a monitoring run, in order. Importing a stage module registers its stage.

Kept apart from ``monitor`` so that the run machinery does not depend on any metric, and the
order of a run is readable in one place: drift, fairness, quality, performance, risk (risk
reads the others' results, so it comes last of the metrics). Modules are imported from an
explicit list because the order of registration is the order of the run (an import sorter
must not be able to reorder it).
"""

from __future__ import annotations

import importlib
import importlib.util

from driftguard.monitor import STAGES

#: Stage modules in run order; a module listed as optional is skipped when not installed.
STAGE_MODULES: tuple[tuple[str, bool], ...] = (
    ("driftguard.metrics.drift", True),
    ("driftguard.metrics.fairness", False),
    ("driftguard.metrics.quality", False),
    ("driftguard.metrics.performance", False),
    ("driftguard.metrics.risk", False),
)

for _module, _optional in STAGE_MODULES:
    if _optional and importlib.util.find_spec(_module) is None:
        continue
    importlib.import_module(_module)

__all__ = ["STAGES", "STAGE_MODULES"]
