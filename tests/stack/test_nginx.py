"""Nginx: /health, and /api/ + /ws/ reach an API on the host (Linux needs host-gateway)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stackkit

from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine


class _Api(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        _Api.seen.append((self.path, self.headers.get("Upgrade", "")))
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.send_response(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            return
        body = f"api saw {self.path}".encode()
        self.send_response(200)
        if self.path.startswith("/json/"):
            self.send_header("Content-Type", "application/json")  # a type gzip_types names
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def host_api(api_port: int) -> Iterator[list[tuple[str, str]]]:
    # The API runs on the host, as in development; containers reach it through the bridge gateway.
    server = ThreadingHTTPServer(("0.0.0.0", api_port), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.seen = []
    try:
        yield _Api.seen
    finally:
        server.shutdown()
        server.server_close()


_assert_host_gateway_is_local = stackkit.require_local_host_gateway


def _get(project: Project, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", stackkit.port(project, "NGINX_HTTP_PORT"), timeout=10)
    conn.request("GET", path, headers=headers or {})
    return conn.getresponse()


def test_health_endpoint(running_stack: Project) -> None:
    resp = _get(running_stack, "/health")
    assert resp.status == 200
    assert resp.read() == b"OK\n"


def test_api_is_proxied_to_the_host(running_stack: Project, host_api: list[tuple[str, str]]) -> None:
    _assert_host_gateway_is_local(running_stack)
    resp = _get(running_stack, "/api/games/42?x=1")
    assert resp.status == 200
    assert resp.read() == b"api saw /games/42?x=1"  # the /api/ prefix is stripped, as in the seed


def test_api_answers_502_when_the_host_api_is_down(running_stack: Project) -> None:
    _assert_host_gateway_is_local(running_stack)
    resp = _get(running_stack, "/api/anything")
    assert resp.status == 502


def test_websocket_upgrade_reaches_the_host(running_stack: Project, host_api: list[tuple[str, str]]) -> None:
    _assert_host_gateway_is_local(running_stack)
    with socket.create_connection(("127.0.0.1", stackkit.port(running_stack, "NGINX_HTTP_PORT")), timeout=10) as s:
        s.sendall(
            b"GET /ws/socket.io/?EIO=4 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 101"), head
    assert ("/ws/socket.io/?EIO=4", "websocket") in host_api


def test_gzip(running_stack: Project, host_api: list[tuple[str, str]]) -> None:
    _assert_host_gateway_is_local(running_stack)
    import gzip

    path = "/json/" + "x" * 400
    resp = _get(running_stack, "/api" + path, headers={"Accept-Encoding": "gzip"})
    body = resp.read()
    assert resp.status == 200
    assert resp.getheader("Content-Encoding") == "gzip", resp.getheaders()
    assert gzip.decompress(body) == f"api saw {path}".encode()
    plain = _get(running_stack, "/api" + path)  # a client that does not ask gets it as is
    assert plain.getheader("Content-Encoding") is None and plain.read() == f"api saw {path}".encode()


def test_health_checks_leave_no_access_log_lines(running_stack: Project, host_api: list[tuple[str, str]]) -> None:
    """/health is polled every few seconds (Docker, probes): it must not flood the log, while
    other requests are logged."""
    import subprocess
    import time
    import uuid

    marker = uuid.uuid4().hex
    for _ in range(3):
        assert _get(running_stack, f"/health?{marker}").status == 200
    assert _get(running_stack, f"/api/logged-{marker}").status == 200
    container = stackkit.state_of(running_stack, "nginx").container_id
    deadline = time.monotonic() + 10
    logs = ""
    while time.monotonic() < deadline and f"logged-{marker}" not in logs:
        logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True).stdout
        time.sleep(0.2)
    assert f"/api/logged-{marker}" in logs
    assert f"/health?{marker}" not in logs
