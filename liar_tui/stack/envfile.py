"""A small .env reader/writer with compose's rules for the subset liar-tui needs."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")

#: Variables whose values are secrets: never shown, logged or put on a command line.
SECRET_KEYS: tuple[str, ...] = ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD")


_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _interpolate(value: str, known: dict[str, str]) -> str:
    """`$$`, `$VAR`, `${VAR}`, `${VAR:-default}`... as compose reads a .env: the value the
    containers get (a password `Pw$$x` is `Pw$x` there, and only that must be hidden)."""
    if "$" not in value:
        return value

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        got = known.get(name, os.environ.get(name))
        op, arg = m.group(2), m.group(3) or ""
        if op in (":-", "-"):
            return (got or "") if (got if op == ":-" else got is not None) else arg
        if op in (":+", "+"):
            return arg if (got if op == ":+" else got is not None) else ""
        return got or ""

    return _INTERPOLATION.sub(one, value)


def parse_env(text: str, interpolate: bool = True) -> dict[str, str]:
    """Parse dotenv text: KEY=VALUE, quotes, comments, `export`; later keys win. Unquoted and
    double-quoted values are interpolated as compose does (`interpolate=False`: as written)."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        m = _LINE.match(raw)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        literal = False
        if value[:1] in ("'", '"'):
            quote = value[0]
            literal = quote == "'"
            end = value.find(quote, 1)
            value = value[1:end] if end > 0 else value[1:]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            # an unquoted value ends at ' #' (inline comment)
            hash_at = value.find(" #")
            if hash_at >= 0:
                value = value[:hash_at]
            value = value.strip()
        result[key] = value if literal or not interpolate else _interpolate(value, result)
    return result


def read_env(path: Path) -> dict[str, str]:
    return parse_env(path.read_text(encoding="utf-8"))


def set_env_values(text: str, values: dict[str, str]) -> str:
    """Return dotenv text with KEY=VALUE replaced in place, or appended when absent."""
    lines = text.splitlines()
    done: set[str] = set()
    for i, raw in enumerate(lines):
        m = _LINE.match(raw)
        if m and m.group(1) in values and m.group(1) not in done:
            lines[i] = f"{m.group(1)}={values[m.group(1)]}"
            done.add(m.group(1))
    for key, value in values.items():
        if key not in done:
            lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Redactor:
    """Replaces secret values with '******' in any text bound for a screen, a log or a file."""

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()) -> None:
        # Very short values would mangle ordinary text; they are not worth hiding anyway.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(re.escape(s) for s in self._secrets)) if self._secrets else None
        )

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "Redactor":
        return cls([env.get(k, "") for k in SECRET_KEYS])

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        # Almost no text holds a secret: a substring test per secret is ~3x faster than the
        # alternation (a log burst passes every line through here).
        for secret in self._secrets:
            if secret in text:
                return self._pattern.sub("******", text)
        return text

    def cut(self, text: str, limit: int, mark: str = "…") -> str:
        """`text` redacted, then cut to `limit` characters (ending in `mark`). The cut must not
        show the start of a secret either: a secret that straddles the cut, or that goes on past
        the text (a long line still arriving), ends the text as '******' when 3 or more of its
        characters would show."""
        text = self(text)
        if len(text) > limit:
            text = text[:limit]
        for secret in self._secrets:
            for k in range(min(len(secret) - 1, len(text)), 2, -1):
                if text.endswith(secret[:k]):
                    text = text[:-k] + "******"
                    break
        return text + mark


class LiveRedactor:
    """A Redactor that follows a .env file: when the file changes (looked at once a second at
    most) its secrets are read again, and the ones seen before stay hidden too -- a password
    rotated while the console runs must not show in a log line that still quotes the new or the
    old one. Same calls as Redactor."""

    def __init__(self, path: Path, interval: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        self._current = Redactor()
        self._reload()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _reload(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp and self._stamp is not None:
            return
        try:
            text = self._path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        # the value the containers get (compose interpolates `$`), and the one written in .env
        values = [env.get(k, "") for env in (parse_env(text), parse_env(text, interpolate=False)) for k in SECRET_KEYS]
        with self._lock:
            self._stamp = stamp
            self._seen.update(v for v in values if v)
            self._current = Redactor(sorted(self._seen))

    def current(self) -> Redactor:
        now = self._clock()
        if now - self._checked >= self._interval:
            self._checked = now
            self._reload()
        return self._current

    def __call__(self, text: str) -> str:
        return self.current()(text)

    def cut(self, text: str, limit: int, mark: str = "…") -> str:
        return self.current().cut(text, limit, mark)
