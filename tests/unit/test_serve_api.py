"""The Prefect REST calls of driftguard.serve against a scripted local HTTP server: a busy
server's 503/429 are retried, other errors are not, and a deployment run carries an
idempotency key so a retried POST cannot start two runs."""

from __future__ import annotations

import json
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from driftguard.serve import api_request, is_healthy, run_deployment


class ScriptedAPI:
    """Answers each request with the next scripted (status, body, headers); records requests."""

    def __init__(self) -> None:
        self.script: list[tuple[int, object, dict[str, str]]] = []
        self.requests: list[tuple[str, str, object]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                api.requests.append((self.command, self.path, body))
                status, payload, headers = api.script.pop(0)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def then(self, status: int, payload: object = None, **headers: str) -> ScriptedAPI:
        self.script.append((status, payload, headers))
        return self


@pytest.fixture
def api() -> Iterator[ScriptedAPI]:
    scripted = ScriptedAPI()
    thread = threading.Thread(target=scripted.server.serve_forever, daemon=True)
    thread.start()
    yield scripted
    scripted.server.shutdown()
    scripted.server.server_close()


def test_a_busy_server_is_asked_again_until_it_answers(api):
    busy = {"exception_message": "Service Unavailable"}
    api.then(503, busy).then(429, busy, **{"Retry-After": "0"}).then(200, {"ok": 1})
    assert api_request(api.url, "POST", "/flows/filter", {"limit": 1}, backoff=0.01) == {"ok": 1}
    assert [r[:2] for r in api.requests] == [("POST", "/api/flows/filter")] * 3
    assert all(r[2] == {"limit": 1} for r in api.requests)  # the body is sent each time


def test_a_server_busy_for_every_attempt_raises_its_last_answer(api):
    for _ in range(3):
        api.then(503, {"exception_message": "Service Unavailable"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        api_request(api.url, "GET", "/flow_runs/x", attempts=3, backoff=0.01)
    assert raised.value.code == 503 and len(api.requests) == 3


@pytest.mark.parametrize("status", [400, 404, 422, 500])
def test_errors_that_retrying_cannot_fix_are_raised_at_once(api, status):
    api.then(status, {"detail": "no"}).then(200, {"ok": 1})
    with pytest.raises(urllib.error.HTTPError) as raised:
        api_request(api.url, "GET", "/deployments/name/a/b", backoff=0.01)
    assert raised.value.code == status and len(api.requests) == 1


def test_health_is_one_quick_question(api):
    api.then(503, "busy")
    assert is_healthy(api.url) is False and len(api.requests) == 1
    api.then(200, True)
    assert is_healthy(api.url) is True


def test_a_deployment_run_survives_a_busy_create_and_carries_an_idempotency_key(api):
    api.then(200, {"id": "dep-1"})
    api.then(503, {"exception_message": "Service Unavailable"})
    api.then(200, {"id": "run-1"})
    api.then(200, {"id": "run-1", "state": {"type": "RUNNING"}})
    api.then(200, {"id": "run-1", "state": {"type": "COMPLETED"}})
    final = run_deployment(api.url, "verify-audit/daily", {"request": {"full": True}}, timeout=30)
    assert final["state"]["type"] == "COMPLETED"
    creates = [body for method, path, body in api.requests if path.endswith("/create_flow_run")]
    assert len(creates) == 2 and creates[0] == creates[1]  # the same key both times
    assert creates[0]["parameters"] == {"request": {"full": True}}
    assert creates[0]["idempotency_key"].startswith("driftguard-")
