"""A service's status as one word with its marker and style, and each service's colour: shared by
the panes (render.py, Rich) and the pre-paint (prepaint.py, plain ANSI before Rich or Textual are
loaded). No imports beyond the model."""

from __future__ import annotations

from ..stack.model import ServiceState

#: One colour per service (Rich's names for the 16 ANSI colours), used for log prefixes, pane
#: titles and the pre-paint's rows.
SERVICE_COLOURS: dict[str, str] = {
    "postgres": "bright_blue",
    "redis": "bright_red",
    "nginx": "bright_green",
    "minio": "bright_magenta",
}


def status_style(state: ServiceState) -> str:
    """A Rich style name: 'bold green', 'bold red', 'dim', ..."""
    if state.state == "missing":
        return "dim"
    if state.running:
        return {"healthy": "bold green", "starting": "bold yellow", "unhealthy": "bold red"}.get(
            state.health.status, "green"
        )
    if state.state in ("restarting", "paused", "created", "removing"):
        return "bold yellow"
    return "bold red"


def status_word(state: ServiceState, connected: bool = True) -> tuple[str, str]:
    """('● healthy', style), ('● exited (137)', ...), ('● unhealthy ×3', ...), ('○ no container', ...)."""
    if not connected:
        return "? unknown", "dim"
    style = status_style(state)
    if state.state == "missing":
        return "○ no container", style
    if state.running:
        health = state.health.status
        if health == "none":
            word = "running"
        elif health == "unhealthy" and state.health.failing_streak:
            word = f"unhealthy ×{state.health.failing_streak}"
        else:
            word = health
    elif state.state == "exited":
        word = f"exited ({state.exit_code})" + (" OOM" if state.oom_killed else "")
    else:
        word = state.state
    return f"● {word}", style
