"""Run DriftGuard's schedules locally: a Prefect server on 127.0.0.1, the deployments of
``prefect.yaml`` and a process worker, as child processes of one command.

This module starts programs (``prefect server start``, ``prefect deploy``, ``prefect worker
start``) and talks HTTP to the server's API; it never imports Prefect, so the core library stays
free of it. Used by ``driftguard serve`` and by the end-to-end tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftguard.errors import DriftGuardError

WORK_POOL = "driftguard-local"
TERMINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class PrefectUnavailable(DriftGuardError):
    """The Prefect server could not be started or reached."""


def project_dir() -> Path:
    """The folder holding prefect.yaml and flows/ (deployments run from there)."""
    import flows

    return Path(flows.__file__).resolve().parents[1]


def prefect_executable() -> str:
    return str(Path(sys.executable).with_name("prefect"))


RETRYABLE_STATUSES = frozenset({408, 429, 502, 503})
"""Statuses the Prefect server sends for a busy database or a restart (its own client retries
the same ones): the request did not take effect and may be sent again."""


def api_request(
    api_url: str,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 30,
    attempts: int = 6,
    backoff: float = 0.5,
) -> Any:
    """One JSON call to the Prefect REST API.

    A busy server answers 503 (a SQLite catalog locked by another writer) or 429; the call is
    sent again after an exponential back-off (``Retry-After`` when given), up to ``attempts``
    times, as Prefect's own client does. Other errors are raised at once.
    """
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            api_url.rstrip("/") + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read().decode()
            return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            if error.code not in RETRYABLE_STATUSES or attempt == attempts:
                raise
            time.sleep(_retry_delay(error, attempt, backoff))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _retry_delay(error: urllib.error.HTTPError, attempt: int, backoff: float) -> float:
    retry_after = error.headers.get("Retry-After") if error.headers else None
    if retry_after is not None and retry_after.strip().isdigit():
        return min(float(retry_after), 30.0)
    return min(backoff * 2 ** (attempt - 1), 10.0)


def is_healthy(api_url: str) -> bool:
    try:
        return api_request(api_url, "GET", "/health", timeout=3, attempts=1) is True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(
    api_url: str, timeout: float = 180, process: subprocess.Popen | None = None
) -> float:
    """Wait until the API answers; return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if is_healthy(api_url):
            return time.monotonic() - started
        if process is not None and process.poll() is not None:
            raise PrefectUnavailable(f"the Prefect server exited with code {process.returncode}")
        time.sleep(0.5)
    raise PrefectUnavailable(f"no healthy Prefect API at {api_url} after {timeout:.0f} s")


@dataclass
class LocalStack:
    """A Prefect server (unless one is given), the deployments and a worker."""

    home: Path
    port: int = 4200
    api_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home = self.home.resolve()
        self.log_dir = (self.log_dir or self.home / "serve").resolve()
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("PREFECT_HOME", str(self.home / "prefect"))
        env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
        # DriftGuard's own log records also go to the flow run's logs in the UI
        env.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "driftguard")
        env.update(
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_API_URL=self.url,
            DRIFTGUARD_PROJECT_DIR=str(project_dir()),
            DRIFTGUARD_HOME=str(self.home),
        )
        env.update(self.env)
        return env

    @property
    def url(self) -> str:
        return self.api_url or f"http://127.0.0.1:{self.port}/api"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            args,
            env=self.child_env(),
            cwd=project_dir(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start_server(self, timeout: float = 180) -> float:
        """Start ``prefect server start`` unless an API is already configured; wait for it."""
        if self.api_url:
            return wait_healthy(self.url, timeout=30)
        server = self._spawn(
            "server",
            [
                prefect_executable(),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
        )
        return wait_healthy(self.url, timeout=timeout, process=server)

    def deploy(self) -> list[str]:
        """Create the work pool (if absent) and register every deployment of prefect.yaml."""
        run = subprocess.run(
            [prefect_executable(), "work-pool", "create", WORK_POOL, "--type", "process"],
            env=self.child_env(),
            cwd=project_dir(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if run.returncode != 0 and "already exists" not in run.stdout + run.stderr:
            raise PrefectUnavailable(f"could not create work pool: {run.stdout}{run.stderr}")
        run = subprocess.run(
            [prefect_executable(), "--no-prompt", "deploy", "--all"],
            env=self.child_env(),
            cwd=project_dir(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if run.returncode != 0:
            raise PrefectUnavailable(f"prefect deploy failed: {run.stdout}{run.stderr}")
        self.ensure_write_limit()
        return [d["name"] for d in api_request(self.url, "POST", "/deployments/filter", {})]

    def deployments(self) -> list[str]:
        """``flow-name/deployment-name`` of every deployment on the server, sorted."""
        flows = {f["id"]: f["name"] for f in api_request(self.url, "POST", "/flows/filter", {})}
        return sorted(
            f"{flows.get(d['flow_id'], '?')}/{d['name']}"
            for d in api_request(self.url, "POST", "/deployments/filter", {})
        )

    def ensure_write_limit(self) -> int | None:
        """Create (or resize) the global concurrency limit lake-writing tasks occupy when
        DRIFTGUARD_LAKE_WRITE_SLOTS is a positive number; returns the limit or None."""
        slots = int(self.child_env().get("DRIFTGUARD_LAKE_WRITE_SLOTS", "0") or 0)
        if slots <= 0:
            return None
        name = "driftguard-lake-writes"
        try:
            api_request(
                self.url,
                "PATCH",
                f"/v2/concurrency_limits/{name}",
                {"limit": slots, "active": True},
            )
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise
            api_request(
                self.url,
                "POST",
                "/v2/concurrency_limits/",
                {"name": name, "limit": slots, "active": True},
            )
        return slots

    def start_worker(self, query_seconds: int = 10) -> subprocess.Popen:
        env_args = [
            prefect_executable(),
            "worker",
            "start",
            "--pool",
            WORK_POOL,
            "--name",
            f"driftguard-worker-{os.getpid()}",
        ]
        self.env.setdefault("PREFECT_WORKER_QUERY_SECONDS", str(query_seconds))
        return self._spawn("worker", env_args)

    def stop(self) -> None:
        """Workers first (two interrupts: the first asks, the second insists), then the server."""
        for process in reversed(self.processes):
            if process.poll() is not None:
                continue
            for sig in (signal.SIGINT, signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.processes.clear()


def run_deployment(
    api_url: str, name: str, parameters: dict[str, Any], timeout: float = 600
) -> dict[str, Any]:
    """Create a flow run of deployment ``flow-name/deployment-name`` and wait for its end."""
    flow_name, deployment_name = name.split("/", 1)
    deployment = api_request(api_url, "GET", f"/deployments/name/{flow_name}/{deployment_name}")
    # a retried POST whose first attempt did reach the database creates no second run
    flow_run = api_request(
        api_url,
        "POST",
        f"/deployments/{deployment['id']}/create_flow_run",
        {"parameters": parameters, "idempotency_key": f"driftguard-{uuid.uuid4()}"},
    )
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        current = api_request(api_url, "GET", f"/flow_runs/{flow_run['id']}")
        if current["state"]["type"] in TERMINAL_STATES:
            return current
        time.sleep(1)
    raise PrefectUnavailable(f"flow run {flow_run['id']} did not finish within {timeout:.0f} s")
