"""``driftguard serve``: the schedules running locally with the Prefect UI."""

from __future__ import annotations

import os
import time

import typer

from driftguard.cli._common import app, console
from driftguard.config import Settings
from driftguard.serve import LocalStack
from driftguard.workspace import mark_home, resolve_config_path


@app.command()
def serve(
    port: int = typer.Option(4200, help="Port of the local Prefect server."),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Also run a process worker."),
) -> None:
    """Start a Prefect server on 127.0.0.1 (unless PREFECT_API_URL names one, e.g. Prefect
    Cloud with PREFECT_API_KEY), register the deployments of prefect.yaml and run a worker, so
    the schedules run; Ctrl-C stops it all.

    Example: driftguard serve --port 4200
    """
    settings = Settings.from_env()
    mark_home(settings.home)
    config_path = resolve_config_path(settings).resolve()
    stack = LocalStack(
        home=settings.home,
        port=port,
        api_url=os.environ.get("PREFECT_API_URL") or None,
        env={"DRIFTGUARD_CONFIG": str(config_path)},
    )
    try:
        waited = stack.start_server()
        console.print(f"Prefect API {stack.url} ready after {waited:.1f} s")
        stack.deploy()
        names = stack.deployments()
        console.print(f"registered {len(names)} deployments: {', '.join(names)}")
        if worker:
            stack.start_worker()
            console.print(f"worker started on pool driftguard-local (logs in {stack.log_dir})")
        console.print(f"UI: {stack.url.removesuffix('/api')}  (Ctrl-C to stop)")
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        console.print("a child process exited; stopping (see the logs above)")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping worker and server")
    finally:
        stack.stop()
