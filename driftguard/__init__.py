"""DriftGuard: scheduled monitoring of production ML models, with governance and an audit trail.

The core library is plain Python (no Prefect import), so the command line, tests and other
orchestrators can call it directly; ``flows/`` and ``tasks/`` wrap it for Prefect.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("driftguard")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
