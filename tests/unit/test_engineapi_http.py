"""The Engine API client's HTTP, against a scripted server on a unix socket.

The real engine is exercised by every test under tests/stack; these pin the protocol cases the
engine produces only sometimes: bodies cut at awkward places, a kept-alive connection the other
side has dropped, the answer to an HTTP/1.0 stream request, a close() from another thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from liar_tui.stack.engineapi import EngineAPI, NotFound

Reply = Callable[[str, "socket.socket"], bool]  # (request line, conn) -> keep the connection?


class ScriptedEngine:
    """Accepts connections and answers each request with `reply`; counts connections."""

    def __init__(self, path: Path, reply: Reply) -> None:
        self.path = str(path)
        self.reply = reply
        self.connections = 0
        self.requests: list[str] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                length = next((int(ln.split(":")[1]) for ln in lines if ln.lower().startswith("content-length")), 0)
                while len(buf) < length:
                    buf += conn.recv(65536)
                buf = buf[length:]
                self.requests.append(lines[0])
                if not self.reply(lines[0], conn):
                    return

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Callable[[Reply], tuple[ScriptedEngine, EngineAPI]]]:
    made: list[ScriptedEngine] = []

    def make(reply: Reply) -> tuple[ScriptedEngine, EngineAPI]:
        server = ScriptedEngine(tmp_path / f"engine{len(made)}.sock", reply)
        made.append(server)
        return server, EngineAPI(f"unix://{server.path}", timeout=5)

    yield make
    for server in made:
        server.close()


def answer(conn: socket.socket, body: bytes, status: str = "200 OK") -> None:
    conn.sendall(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(body), body))


def send_slowly(conn: socket.socket, data: bytes, piece: int = 1) -> None:
    for i in range(0, len(data), piece):
        conn.sendall(data[i : i + piece])
        time.sleep(0.0005)


def test_sized_bodies_reuse_one_connection(engine) -> None:  # type: ignore[no-untyped-def]
    def reply(line: str, conn: socket.socket) -> bool:
        answer(conn, b'[{"Id": "abc"}]')
        return True

    server, api = engine(reply)
    assert api.containers(all=True, filters={"label": "a=b"}) == [{"Id": "abc"}]
    assert api.containers() == [{"Id": "abc"}]
    assert server.connections == 1
    assert "filters=%7B%22label%22%3A+%5B%22a%3Db%22%5D%7D" in server.requests[0]


def test_chunked_body_cut_anywhere_then_the_connection_is_clean(engine) -> None:  # type: ignore[no-untyped-def]
    def reply(line: str, conn: socket.socket) -> bool:
        if "/json" in line and "containers/x" in line:
            send_slowly(conn, b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n3;ext=1\r\n 12\r\n1\r\n}\r\n0\r\n\r\n')
        else:
            answer(conn, b"OK")
        return True

    server, api = engine(reply)
    assert api.inspect_container("x") == {"a": 12}
    assert api.ping() is True  # the next answer on the same connection parses: the chunked end was read
    assert server.connections == 1


def test_error_status_carries_the_engine_message(engine) -> None:  # type: ignore[no-untyped-def]
    def reply(line: str, conn: socket.socket) -> bool:
        answer(conn, b'{"message":"No such container: nope"}', "404 Not Found")
        return True

    _server, api = engine(reply)
    with pytest.raises(NotFound) as err:
        api.inspect_container("nope")
    assert err.value.status == 404 and err.value.explanation == "No such container: nope"


def test_a_dropped_keep_alive_connection_is_retried_once_on_a_fresh_one(engine) -> None:  # type: ignore[no-untyped-def]
    def reply(line: str, conn: socket.socket) -> bool:
        answer(conn, b"OK")
        return False  # the engine closes the connection after answering (as after an idle timeout)

    server, api = engine(reply)
    assert api.ping() and api.ping()
    assert server.connections == 2


def test_an_engine_restart_drops_every_pooled_connection_and_the_next_call_still_answers(engine) -> None:  # type: ignore[no-untyped-def]
    # Seen in the console: after dockerd came back, the drift check met a second dead pooled
    # connection on its retry and said "not checked: BrokenPipeError" until the next restart.
    together = threading.Barrier(3)
    held: list[socket.socket] = []

    def reply(line: str, conn: socket.socket) -> bool:
        if len(held) < 3:
            held.append(conn)
            together.wait(5)  # three requests at once: three connections end up in the pool
        answer(conn, b"OK")
        return True

    server, api = engine(reply)
    calls = [threading.Thread(target=api.ping) for _ in range(3)]
    for t in calls:
        t.start()
    for t in calls:
        t.join(5)
    assert server.connections == 3 and len(api._idle) == 3
    for conn in held:  # the engine goes away and comes back: every kept-alive connection is dead
        conn.shutdown(socket.SHUT_RDWR)
    time.sleep(0.1)
    assert api.ping() is True
    assert server.connections == 4


def test_streams_ask_for_http_1_0_and_read_the_raw_body_until_close(engine) -> None:  # type: ignore[no-untyped-def]
    def reply(line: str, conn: socket.socket) -> bool:
        if not line.endswith("HTTP/1.0"):  # would come back chunked, one chunk per line
            answer(conn, b"", "400 Bad Request")
            return True
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
        send_slowly(conn, b'{"status":"start","id":"1"}\n{"status":"die",', 7)
        send_slowly(conn, b'"id":"1"}\n', 3)
        return False

    _server, api = engine(reply)
    events = list(api.events(since=12.5, filters={"type": "container"}))
    assert events == [{"status": "start", "id": "1"}, {"status": "die", "id": "1"}]


def test_close_from_another_thread_ends_a_blocked_stream(engine) -> None:  # type: ignore[no-untyped-def]
    def reply(line: str, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        time.sleep(30)  # an engine with nothing to say
        return False

    _server, api = engine(reply)
    stream = api.logs("x", follow=True)
    threading.Timer(0.2, stream.close).start()
    started = time.monotonic()
    assert list(stream.chunks()) == []
    assert time.monotonic() - started < 2
