"""Create and migrate the Prefect database of PREFECT_HOME once (for bench/orchestration.py)."""

from __future__ import annotations


def run() -> dict:
    from prefect import flow

    @flow
    def warm_up() -> int:
        return 1

    return {"value": warm_up()}
