"""The stages of a monitoring run, in order. Importing a stage module registers its stage.

Kept apart from ``monitor`` so that the run machinery does not depend on any metric, and the
order of a run is readable in one place.
"""

from __future__ import annotations

import driftguard.governance.policy  # noqa: F401  (stage "policy")
from driftguard.monitor import STAGES

__all__ = ["STAGES"]
