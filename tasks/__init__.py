"""Prefect tasks: thin wrappers that add retries, timeouts and names to one core call each.

Every task has a timeout. Tasks run in worker threads, where Prefect can only act on a timeout
once the blocking call (a DuckDB query) returns; it then marks the task failed. Prefect warns
about this on every task run, so that one warning is filtered here and the behaviour is
documented in the README instead.
"""

from __future__ import annotations

import logging


class _ThreadTimeoutNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeouts in worker threads cannot interrupt" not in record.getMessage()


logging.getLogger("prefect.task_runs").addFilter(_ThreadTimeoutNotice())
