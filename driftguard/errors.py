"""Base exceptions shared by the whole library; specific ones live beside the code raising them.

The command line turns each family into an exit code: configuration and usage problems
exit with 2, data and operational failures with 1.
"""

from __future__ import annotations


class DriftGuardError(Exception):
    """Base of every error DriftGuard raises on purpose."""

    exit_code = 1


class ConfigError(DriftGuardError):
    """The configuration or a command's arguments are wrong: fix them and run again."""

    exit_code = 2


class DataError(DriftGuardError):
    """Input data cannot be used as it is (nothing was written)."""


class StoreError(DriftGuardError):
    """The lake could not be opened, migrated or written."""
