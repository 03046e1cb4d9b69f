"""A small Docker Engine API client over the unix socket (or tcp://), on plain sockets.

liar-tui makes a dozen kinds of Engine API calls: list, inspect, ping/version, the three streams
(events, stats, logs), exec with a hijacked socket, an archive read, and kill/start/restart/top
for tests. The `docker` SDK did this through requests and urllib3: ~100 ms of imports at launch
and ~8 MB resident, for a console that wants its first frame in 300 ms and to stay under 80 MB.

Every call is one HTTP/1.1 request on a small pool of keep-alive connections (thread-safe: the
monitor, stats streams, log readers and workers share an instance). Streams own their connection;
`close()` from another thread shuts the socket down, which ends a blocked read at once. The HTTP
spoken is the subset the engine answers with (Content-Length or chunked bodies, or a raw stream
until close); http.client would add ~20 ms of imports (its email parser) to every launch.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import quote, urlencode

DEFAULT_API_VERSION = "1.41"
#: Bytes per read of a stream: a 100k-line log burst arrives in a few hundred reads, not 100k.
READ_SIZE = 64 * 1024


class APIError(Exception):
    """The engine answered with an error status; `explanation` is its own message."""

    def __init__(self, status: int, explanation: str) -> None:
        super().__init__(f"{status}: {explanation}")
        self.status = status
        self.explanation = explanation


class NotFound(APIError):
    """404: no such container, image, exec or path."""


def _reason(status: int) -> str:
    return {400: "bad request", 401: "unauthorized", 403: "forbidden", 404: "not found", 409: "conflict",
            500: "server error", 503: "unavailable"}.get(status, "error")


def _raise_for(status: int, body: bytes) -> None:
    if status < 400:
        return
    try:
        message = str(json.loads(body or b"{}").get("message") or "")
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace").strip()
    raise (NotFound if status == 404 else APIError)(status, message or _reason(status))


def _has_body(status: int, headers: dict[str, str]) -> bool:
    return not (100 <= status < 200 or status in (204, 304))


class ProtocolError(ConnectionError):
    """The engine's answer is not the HTTP this client speaks (or the connection broke mid-way)."""


def _filters(filters: dict[str, Any] | None) -> str | None:
    """docker's `filters` query value: {"label": ["a=b"], ...} as JSON, single values listed."""
    if not filters:
        return None
    return json.dumps({k: (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in filters.items()})


def docker_time(seconds: float) -> str:
    """A `since`/`until` value: the engine reads the digits after the point as nanoseconds, so
    '12.5' would mean 12 s + 5 ns; nine digits say what is meant."""
    return f"{seconds:.9f}"


class _Connection:
    """One HTTP/1.1 connection to the engine: a socket and a buffered reader on it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = cast(io.BufferedReader, sock.makefile("rb", buffering=READ_SIZE))

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None, version: str = "1.1") -> None:
        lines = [f"{method} {url} HTTP/{version}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body or b'')}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def read_head(self) -> tuple[int, dict[str, str]]:
        line = self.reader.readline(65537)
        if not line:
            raise ProtocolError("the engine closed the connection")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ProtocolError(f"not an HTTP answer: {line[:60]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = self.reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def body(self, headers: dict[str, str]) -> Iterator[bytes]:
        """The body as it arrives: chunked, sized, or everything until the engine closes."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            yield from self._chunked()
        elif "content-length" in headers:
            left = int(headers["content-length"])
            while left > 0:
                data = self.reader.read1(min(left, READ_SIZE))
                if not data:
                    raise ProtocolError("the engine closed the connection inside a body")
                left -= len(data)
                yield data
        else:
            read1 = self.reader.read1
            while True:
                data = read1(READ_SIZE)
                if not data:
                    return
                yield data

    def read_body(self, status: int, headers: dict[str, str]) -> bytes:
        """The whole body (none for 1xx, 204 and 304)."""
        return b"".join(self.body(headers)) if _has_body(status, headers) else b""

    def _chunked(self) -> Iterator[bytes]:
        """A chunked body, as much as has arrived at a time: the engine sends a log stream one
        line per chunk, and a 100k-line burst must not cost 100k trips through the caller."""
        read1 = self.reader.read1
        buf = bytearray()
        while True:
            data = read1(READ_SIZE)
            if not data:
                raise ProtocolError("the engine closed the connection inside a chunked body")
            buf += data
            out: list[bytes] = []
            pos, end, done = 0, len(buf), False
            while pos < end:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    done = True
                    # the last chunk: "0\r\n", optional trailers, "\r\n"; read to its end so a
                    # kept-alive connection starts clean
                    while buf.find(b"\r\n\r\n", eol) < 0:
                        more = read1(READ_SIZE)
                        if not more:
                            break
                        buf += more
                    break
                start = eol + 2
                if start + size + 2 > end:
                    break  # the rest of this chunk is still on its way
                out.append(bytes(buf[start : start + size]))
                pos = start + size + 2
            if out:
                yield b"".join(out)
            if done:
                return
            del buf[:pos]

    def shutdown(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        for thing in (self.reader, self.sock):
            try:
                thing.close()
            except OSError:
                pass


class Stream:
    """A streaming response: `chunks()` (raw bytes) or iteration (decoded JSON objects).

    close() may come from any thread and ends a blocked read (the socket is shut down first)."""

    def __init__(self, conn: _Connection, headers: dict[str, str]) -> None:
        self._conn = conn
        self.headers = headers
        self._closed = False

    def chunks(self) -> Iterator[bytes]:
        try:
            for data in self._conn.body(self.headers):
                if self._closed:
                    return
                yield data
        except (OSError, ValueError):
            return  # closed from another thread, or the engine went away

    def __iter__(self) -> Iterator[Any]:
        decoder = json.JSONDecoder()
        buf = ""
        for chunk in self.chunks():
            buf += chunk.decode("utf-8", "replace")
            pos = 0
            end = len(buf)
            while True:
                while pos < end and buf[pos] in " \t\r\n":
                    pos += 1
                if pos >= end:
                    break
                try:
                    obj, pos = decoder.raw_decode(buf, pos)
                except ValueError:
                    break  # an object cut between two chunks
                yield obj
            buf = buf[pos:]

    def close(self) -> None:
        self._closed = True
        self._conn.shutdown()
        self._conn.close()


class HijackedSocket:
    """The raw connection of an exec after the engine switched protocols (stdin in, multiplexed
    stdout/stderr out). Bytes read together with the response headers are handed out first."""

    def __init__(self, sock: socket.socket, leftover: bytes) -> None:
        self._sock = sock
        self._leftover = leftover

    def recv(self, size: int) -> bytes:
        if self._leftover:
            data, self._leftover = self._leftover[:size], self._leftover[size:]
            return data
        return self._sock.recv(size)

    def send(self, data: Any) -> int:
        return self._sock.send(data)

    def sendall(self, data: Any) -> None:
        self._sock.sendall(data)

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)

    def close(self) -> None:
        self._sock.close()


class EngineAPI:
    """The Engine API calls liar-tui makes, named as the docker SDK names them."""

    def __init__(self, base_url: str, version: str = DEFAULT_API_VERSION, timeout: float | None = 10.0) -> None:
        self.base_url = base_url
        self.api_version = version
        self.timeout = timeout
        if base_url.startswith("unix://"):
            self._unix: str | None = base_url[len("unix://") :]
            self._host, self._port = "", 0
        elif base_url.startswith(("tcp://", "http://")):
            self._unix = None
            hostport = base_url.split("://", 1)[1].rstrip("/")
            host, _, port = hostport.rpartition(":")
            self._host, self._port = (host, int(port)) if host else (hostport, 2375)
        else:
            raise ValueError(f"unsupported engine address {base_url!r} (use unix:///path or tcp://host:port)")
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------------------
    def _connection(self, timeout: float | None) -> _Connection:
        if self._unix is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = self._unix
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (self._host, self._port)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _path(self, path: str, params: dict[str, Any] | None, versioned: bool = True) -> str:
        url = f"/v{self.api_version}{path}" if versioned else path
        if params:
            query = {k: v for k, v in params.items() if v is not None}
            if query:
                url += "?" + urlencode(query)
        return url

    def _headers(self, body: bytes | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Host": "docker", "User-Agent": "liar-tui"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if extra:
            headers.update(extra)
        return headers

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        payload: Any = None,
        *,
        versioned: bool = True,
        timeout: float | None | object = ...,
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request, the whole body read; raises APIError/NotFound on an error status."""
        body = json.dumps(payload).encode() if payload is not None else None
        url = self._path(path, params, versioned)
        headers = self._headers(body)
        t = self.timeout if timeout is ... else timeout
        for attempt in (0, 1):
            with self._lock:
                conn = self._idle.pop() if self._idle and attempt == 0 else None
            reused = conn is not None
            if conn is None:
                conn = self._connection(t)  # type: ignore[arg-type]
            else:
                conn.sock.settimeout(t)  # type: ignore[arg-type]
            try:
                conn.send(method, url, headers, body)
                status, head = conn.read_head()
                data = conn.read_body(status, head)
            except (ProtocolError, BrokenPipeError, ConnectionResetError):
                conn.close()
                if reused and attempt == 0:
                    # The engine closed an idle keep-alive connection: once more, on a fresh one.
                    # The other idle ones may be as dead (an engine restarted drops them all).
                    self.close()
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            reusable = head.get("connection", "").lower() != "close" and (
                "content-length" in head
                or head.get("transfer-encoding", "").lower() == "chunked"
                or not _has_body(status, head)
            )
            pooled = False
            if reusable:
                with self._lock:
                    if len(self._idle) < 4:
                        self._idle.append(conn)
                        pooled = True
            if not pooled:
                conn.close()
            _raise_for(status, data)
            return status, data, head
        raise ProtocolError("the engine closed the connection")  # pragma: no cover

    def _json(self, method: str, path: str, params: dict[str, Any] | None = None, payload: Any = None, **kw: Any) -> Any:
        _status, data, _headers = self.request(method, path, params, payload, **kw)
        return json.loads(data) if data.strip() else None

    def stream(self, method: str, path: str, params: dict[str, Any] | None = None, *, connect_timeout: float | None = 10.0) -> Stream:
        """A request whose body is read as it comes (no read timeout): events, stats, logs, archives."""
        conn = self._connection(connect_timeout)
        try:
            # HTTP/1.0: the engine then sends the body as it is, until it closes the connection,
            # instead of chunked encoding with one chunk per log line or event (a Python loop
            # per line to undo: ~2 us each, as much as all the rest of a line's handling).
            conn.send(method, self._path(path, params), self._headers(None), None, version="1.0")
            status, head = conn.read_head()
            if status >= 400:
                data = conn.read_body(status, head)
                _raise_for(status, data)
            conn.sock.settimeout(None)
        except BaseException:
            conn.close()
            raise
        return Stream(conn, head)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- engine -------------------------------------------------------------------------------
    def ping(self) -> bool:
        _status, data, _h = self.request("GET", "/_ping", versioned=False)
        return data.strip() == b"OK"

    def version(self, api_version: bool = True) -> dict[str, Any]:
        return self._json("GET", "/version", versioned=api_version)

    # -- containers ---------------------------------------------------------------------------
    def containers(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # noqa: A002
        return self._json("GET", "/containers/json", {"all": int(all), "filters": _filters(filters)}) or []

    def inspect_container(self, container: str) -> dict[str, Any]:
        return self._json("GET", f"/containers/{quote(container, safe='')}/json")

    def top(self, container: str, ps_args: str | None = None) -> dict[str, Any]:
        return self._json("GET", f"/containers/{quote(container, safe='')}/top", {"ps_args": ps_args})

    def kill(self, container: str, signal: str | int | None = None) -> None:
        self.request("POST", f"/containers/{quote(container, safe='')}/kill", {"signal": signal})

    def start(self, container: str) -> None:
        self.request("POST", f"/containers/{quote(container, safe='')}/start")

    def stop(self, container: str, timeout: int = 10) -> None:
        self.request("POST", f"/containers/{quote(container, safe='')}/stop", {"t": timeout},
                     timeout=None if self.timeout is None else self.timeout + timeout)

    def restart(self, container: str, timeout: int = 10) -> None:
        self.request("POST", f"/containers/{quote(container, safe='')}/restart", {"t": timeout},
                     timeout=None if self.timeout is None else self.timeout + timeout)

    @staticmethod
    def create_host_config(*, volumes_from: list[str] | None = None, network_mode: str | None = None) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if volumes_from:
            config["VolumesFrom"] = list(volumes_from)
        if network_mode:
            config["NetworkMode"] = network_mode
        return config

    def create_container(
        self,
        image: str,
        command: list[str] | None = None,
        *,
        entrypoint: list[str] | None = None,
        user: str = "",
        network_disabled: bool = False,
        labels: dict[str, str] | None = None,
        name: str | None = None,
        host_config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"Image": image, "User": user, "NetworkDisabled": network_disabled,
                                   "Labels": labels or {}, "HostConfig": host_config or {}}
        if command is not None:
            payload["Cmd"] = list(command)
        if entrypoint is not None:
            payload["Entrypoint"] = list(entrypoint)
        return self._json("POST", "/containers/create", {"name": name}, payload)

    def remove_container(self, container: str, force: bool = False, v: bool = False) -> None:
        self.request("DELETE", f"/containers/{quote(container, safe='')}", {"force": int(force), "v": int(v)})

    def inspect_image(self, image: str) -> dict[str, Any]:
        return self._json("GET", f"/images/{quote(image, safe='/:@')}/json")

    def get_archive(self, container: str, path: str) -> tuple[Iterator[bytes], dict[str, Any]]:
        """A tar of `path` in the container (chunks) and the engine's stat of it."""
        import base64

        stream = self.stream("GET", f"/containers/{quote(container, safe='')}/archive", {"path": path})
        raw = stream.headers.get("x-docker-container-path-stat", "")
        try:
            stat = json.loads(base64.b64decode(raw)) if raw else {}
        except ValueError:
            stat = {}

        def chunks() -> Iterator[bytes]:
            try:
                yield from stream.chunks()
            finally:
                stream.close()

        return chunks(), stat

    # -- streams ------------------------------------------------------------------------------
    def events(self, since: float | None = None, filters: dict[str, Any] | None = None,
               until: float | None = None) -> Stream:
        """Decoded events as they happen (iterate; close() to stop); with `until` (epoch seconds)
        the engine ends the stream then."""
        params = {"since": docker_time(since) if since is not None else None, "filters": _filters(filters),
                  "until": docker_time(until) if until is not None else None}
        return self.stream("GET", "/events", params)

    def stats(self, container: str) -> Stream:
        """Decoded stats frames, one per second (iterate; close() to stop)."""
        return self.stream("GET", f"/containers/{quote(container, safe='')}/stats", {"stream": 1})

    def logs(
        self,
        container: str,
        *,
        follow: bool = True,
        tail: int | str | None = 200,
        since: float | str | None = None,
        timestamps: bool = True,
    ) -> Stream:
        """The raw (multiplexed) log stream, stdout and stderr: read it with chunks(). `since` is
        epoch seconds, or a string the engine takes as is ('seconds.nanoseconds', exact)."""
        params = {
            "stdout": 1,
            "stderr": 1,
            "timestamps": int(timestamps),
            "follow": int(follow),
            "tail": "all" if tail is None else str(tail),
            "since": since if isinstance(since, str) else docker_time(since) if since else None,
        }
        return self.stream("GET", f"/containers/{quote(container, safe='')}/logs", params)

    # -- exec ---------------------------------------------------------------------------------
    def exec_create(
        self,
        container: str,
        cmd: list[str],
        *,
        stdin: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        tty: bool = False,
        user: str = "",
        environment: dict[str, str] | None = None,
        workdir: str | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "AttachStdin": stdin,
            "AttachStdout": stdout,
            "AttachStderr": stderr,
            "Tty": tty,
            "Cmd": list(cmd),
            "User": user or "",
        }
        if environment:
            payload["Env"] = [f"{k}={v}" for k, v in environment.items()]
        if workdir:
            payload["WorkingDir"] = workdir
        return self._json("POST", f"/containers/{quote(container, safe='')}/exec", payload=payload)

    def exec_start(self, exec_id: str) -> HijackedSocket:
        """Start an exec attached: the engine switches protocols and the socket carries the
        command's stdin (ours to write) and its multiplexed stdout/stderr (ours to read)."""
        sock = self._connection(self.timeout).sock
        body = json.dumps({"Detach": False, "Tty": False}).encode()
        url = self._path(f"/exec/{quote(exec_id, safe='')}/start", None)
        head = (
            f"POST {url} HTTP/1.1\r\n"
            f"Host: docker\r\nUser-Agent: liar-tui\r\nContent-Type: application/json\r\n"
            f"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        try:
            sock.sendall(head + body)
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("the engine closed the exec connection")
                buf += data
                if len(buf) > 1 << 20:
                    raise ConnectionError("no end of headers from the engine")
            header, _, rest = buf.partition(b"\r\n\r\n")
            lines = header.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            if status >= 400:
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip() or 0)
                while len(rest) < length:
                    data = sock.recv(65536)
                    if not data:
                        break
                    rest += data
                _raise_for(status, rest[:length] if length else rest)
        except BaseException:
            sock.close()
            raise
        return HijackedSocket(sock, rest)

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return self._json("GET", f"/exec/{quote(exec_id, safe='')}/json")
