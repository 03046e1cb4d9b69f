"""Read what a person sees on liar-tui's screen (plain `tmux capture-pane -p` text).

Two layouts exist: at 120x32 and up every service is a bordered card side by side
(`╭─ postgres · database ─╮` then `│ ● healthy   up 8s │`; the selected one heavy, `┏━ ... ┓`); on
smaller terminals one table row each
(`▶ postgres  ● healthy  db ...`, `▶` marking the selection). These helpers find a service's status
word in either, so tests and the benchmark assert on the screen and nothing else.
"""

from __future__ import annotations

import re

SERVICES = ("postgres", "redis", "nginx", "minio")

#: '● healthy', '● exited (137)', '● unhealthy ×3', '● restarting', '○ no container', '? unknown'
_STATUS = re.compile(r"(?:[●○?]) ((?:exited \(-?\d+\)(?: OOM)?)|(?:unhealthy ×\d+)|no container|[a-z]+)")
_ROW = re.compile(r"^(?P<mark>▶| ) (?P<service>[a-z]+)\s+(?P<rest>.*)$")


#: A card's top-left corner: round, or heavy for the selected card.
_CORNERS = (("╭─", "╮"), ("┏━", "┓"))


def _card_top(line: str, service: str) -> tuple[int, int] | None:
    """Where `service`'s card starts and ends on its top border line, or None."""
    for left, right in _CORNERS:
        start = line.find(f"{left} {service} ")
        if start >= 0:
            return start, line.find(right, start)
    return None


def _card_status(lines: list[str], service: str) -> str | None:
    for i, line in enumerate(lines):
        top = _card_top(line, service)
        if top is None or i + 1 >= len(lines):
            continue
        start, end = top
        body = lines[i + 1][start + 1 : end if end > 0 else None]
        m = _STATUS.search(body)
        return m.group(1) if m else None
    return None


def _row_status(lines: list[str], service: str) -> str | None:
    for line in lines:
        m = _ROW.match(line)
        if m and m.group("service") == service:
            s = _STATUS.match(m.group("rest").lstrip())
            return s.group(1) if s else None
    return None


def service_status(screen: str, service: str) -> str | None:
    """The status word shown for `service` ('healthy', 'exited (137)', 'starting', ...), or None
    when the service is not on screen."""
    lines = screen.splitlines()
    found = _card_status(lines, service)
    return found if found is not None else _row_status(lines, service)


def statuses(screen: str) -> dict[str, str | None]:
    return {s: service_status(screen, s) for s in SERVICES}


def all_healthy(screen: str) -> bool:
    """Every service on screen with live state and health: running and healthy."""
    return all(v == "healthy" for v in statuses(screen).values())


def console_ready(screen: str) -> bool:
    """The console itself is on screen (its log bar is drawn) with every service healthy. The
    pre-paint (ui/prepaint.py) shows the statuses earlier, without a log bar."""
    return bool(log_bar(screen)) and all_healthy(screen)


def selected_service(screen: str) -> str | None:
    """The selected service: the `▶` row of the table layout, or the heavy-bordered card."""
    for line in screen.splitlines():
        m = _ROW.match(line)
        if m and m.group("mark") == "▶" and m.group("service") in SERVICES:
            return m.group("service")
        for service in SERVICES:
            if f"┏━ {service} " in line:
                return service
    return None


def has_card(screen: str, service: str) -> bool:
    return any(_card_top(line, service) is not None for line in screen.splitlines())


def log_bar(screen: str) -> str:
    """The log view's title line: 'LOGS nginx  tail 200  ts  ● follow  50/5,000 lines'."""
    for line in screen.splitlines():
        if line.lstrip().startswith("LOGS "):
            return line.strip()
    return ""


def log_target(screen: str) -> str | None:
    parts = log_bar(screen).split()
    return parts[1] if len(parts) > 1 else None


def timestamps_on(screen: str) -> bool:
    return bool(re.search(r"\s{2}ts\s{2}", log_bar(screen)))
