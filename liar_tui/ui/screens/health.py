"""The Health view (`H` / enter): the four probes at a glance, then one service in depth: its probe
(level, reason, figures), drift, autoheal, its docker stats with their sparklines (live, 1 Hz: on
a small terminal the compact table has no room for network, block I/O and history), the
container's processes (the engine's top), Docker's own health (failing streak, last checks), and
how compose made the container (restart policy, memory limit, networks, mounts, command, check).

It renders what the app has been told (probe results, drift, autoheal status, a fresh inspect
with the processes); it fetches nothing itself. Secrets never reach it unredacted: probe results
are redacted in the stack layer, check outputs and command lines here.
"""

from __future__ import annotations

import shlex
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ...stack.model import SERVICE_KIND, SERVICES, ContainerConfig, ProcessRow, ServiceState, format_bytes, format_duration
from ..render import (
    LEVEL_STYLE,
    SERVICE_COLOURS,
    ports_text,
    probe_figures,
    probe_line,
    render_stats_lines,
    shown_probe,
    status_text,
    utc_time,
)
from ..widgets.scrolling import KeyVerticalScroll
from .style import SaysWhyKeyIsOff, modal_css

if TYPE_CHECKING:
    from ..app import LiarApp


#: Seconds between inspects of the shown service while the view is open: a healthcheck run that
#: does not change the health status sends no engine event, and its result is only in an inspect.
REINSPECT_INTERVAL = 5.0


#: show(state) from a state change: keep the processes shown (a sentinel: None means "none known")
KEEP: Any = object()
#: Processes listed in the view (the rest are counted).
PROCESSES_SHOWN = 12


def processes_table(rows: list[ProcessRow], redact: Any) -> Table:
    """'processes (N)' and a row per process: host PID, resident memory, age, command (cut at
    the view's width, not wrapped)."""
    more = f" · {len(rows) - PROCESSES_SHOWN} more not shown" if len(rows) > PROCESSES_SHOWN else ""
    table = Table(box=None, expand=True, padding=(0, 1, 0, 0), show_edge=False,
                  title=Text(f"processes ({len(rows)}; PIDs as the host sees them){more}", style="bold"),
                  title_justify="left", header_style="dim")
    table.add_column("PID", justify="right", no_wrap=True)
    table.add_column("RSS", justify="right", no_wrap=True)
    table.add_column("UP", justify="right", no_wrap=True)
    table.add_column("COMMAND", no_wrap=True, overflow="ellipsis", ratio=1)
    for row in rows[:PROCESSES_SHOWN]:
        table.add_row(str(row.pid), format_bytes(row.rss_kib * 1024), row.elapsed, redact(row.command)[:300])
    return table


class HealthScreen(SaysWhyKeyIsOff, ModalScreen[None]):
    """Health of one service (1-4 or ←/→ pick another), over the four probes' summary."""

    DEFAULT_CSS = modal_css("HealthScreen") + """
    HealthScreen > Vertical { max-width: 110; height: 90%; }
    HealthScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,q,enter", "dismiss", "Close", id="health.close", tooltip="Close the health view"),
        Binding("left,h", "cycle(-1)", "Previous", id="health.previous", show=False, tooltip="Health of the previous service"),
        Binding("right,l", "cycle(1)", "Next", id="health.next", show=False, tooltip="Health of the next service"),
        Binding("1", "show('postgres')", "postgres", id="health.select-1", show=False),
        Binding("2", "show('redis')", "redis", id="health.select-2", show=False),
        Binding("3", "show('nginx')", "nginx", id="health.select-3", show=False),
        Binding("4", "show('minio')", "minio", id="health.select-4", show=False),
        Binding("R", "fix_drift", "Apply drift fix", id="health.fix-drift", tooltip="Recreate (or restart) a drifted service"),
        # the main view's help binding (same id: a remap moves it everywhere); the README says
        # `?` lists every key from any view, and here it did nothing
        Binding("question_mark,f1", "help", "Help", id="app.help", show=False, tooltip="Every key"),
    ]

    is_health_view = True  # the app finds it by this (no import of this module before it is used)

    def __init__(self, state: ServiceState) -> None:
        super().__init__()
        self.state = state
        self.inspected: datetime | None = None
        self.processes: list[ProcessRow] | None = None  # the engine's top, with each inspect
        self.config: ContainerConfig | None = None  # how the container was made (once per container)

    @property
    def liar(self) -> "LiarApp":
        return self.app  # type: ignore[return-value]

    @property
    def service(self) -> str:
        return self.state.service

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title(), id="health-title", classes="title")
            with KeyVerticalScroll():
                yield Static(self._body(), id="health-body")
                yield Static(self._docker_text(), id="health-docker")
                yield Static(self._stats(), id="health-stats")
            yield Label("inspecting…", id="health-hint", classes="hint")

    def on_mount(self) -> None:
        self.set_interval(REINSPECT_INTERVAL, self._reinspect)

    def _reinspect(self) -> None:
        self.liar.inspect_health(self.service)  # a worker; the answer comes back through show()

    # -- updates from the app -----------------------------------------------------------------
    def show(self, state: ServiceState, processes: Any = KEEP, config: Any = KEEP) -> None:
        """A fresh inspect of this service arrived (the view's own, with its processes and the
        container's config, or the monitor's on a state change: what is shown stays, unless the
        container changed)."""
        if state.service != self.service:
            return
        if processes is not KEEP:
            self.processes = processes
        elif state.container_id != self.state.container_id or not state.running:
            self.processes = None
        if config is not KEEP:
            self.config = config
        elif state.container_id != self.state.container_id:
            self.config = None
        self.state = state
        self.inspected = self._now()[0]
        self.redraw()

    def _fix_key(self) -> str:
        """The drift fix's key after the keymap (R unless remapped)."""
        return self.liar.key_for("health.fix-drift", HealthScreen) or "R"

    def redraw(self) -> None:
        if not self.is_mounted or not self.query("#health-stats"):
            return  # not composed yet, or being taken down (the 1 Hz tick can come in between)
        self.query_one("#health-title", Label).update(self._title())
        self.query_one("#health-body", Static).update(self._body())
        self.query_one("#health-docker", Static).update(self._docker_text())
        self.redraw_stats()
        self.query_one("#health-hint", Label).update(self._hint())
        self.refresh_bindings()

    def redraw_stats(self) -> None:
        """The app's 1 Hz tick: the stats lines only."""
        if not self.is_mounted:
            return
        for stats in self.query("#health-stats").results(Static):  # none before compose, after removal
            stats.update(self._stats())

    # -- actions ------------------------------------------------------------------------------
    def action_show(self, service: str) -> None:
        if service == self.service:
            return
        self.state = self.liar.state_of(service)
        self.inspected = None
        self.processes = None
        self.redraw()
        self.liar.inspect_health(service)
        self.liar.main.services.select(service)  # back in the main view, the same service is selected

    def action_cycle(self, step: int) -> None:
        i = SERVICES.index(self.service) if self.service in SERVICES else 0
        self.action_show(SERVICES[(i + int(step)) % len(SERVICES)])

    def action_help(self) -> None:
        self.liar.main.action_help()

    def action_fix_drift(self) -> None:
        drift = self.liar.drift.get(self.service)
        if drift is not None and drift.drifted:
            self.liar.run_service_action(drift.fix, self.service)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fix_drift":
            return None if self.disabled_reason(action) else True
        return True

    def disabled_reason(self, action: str) -> str:
        """Why R does nothing now, in one line (QA: with no drift it did nothing, silently)."""
        if action != "fix_drift":
            return ""
        drift = self.liar.drift.get(self.service)
        if drift is None:
            return f"drift of {self.service} not checked yet: nothing to apply"
        if not drift.drifted:
            app = self.liar
            return (f"{self.service} matches the compose file and .env: no drift to apply ("
                    f"{app.key_for('service.restart')} and {app.key_for('service.recreate')} in the main view "
                    f"restart and recreate it anyway)")
        if not self.liar.engine_connected:
            return "the Docker engine is unreachable: actions come back when it does"
        return self.liar.compose_conflict(self.service)

    # -- rendering ----------------------------------------------------------------------------
    def _now(self) -> tuple[datetime, float]:
        clock = getattr(self.app, "clock", None)
        if clock is not None:
            return clock()
        now = datetime.now(timezone.utc)
        return now, now.timestamp()

    def _title(self) -> Text:
        return Text.assemble(
            ("Health · ", "bold"),
            (self.service, f"bold {SERVICE_COLOURS.get(self.service, '')}"),
            (f" · {SERVICE_KIND.get(self.service, '')}", "bold"),
        )

    def _hint(self) -> str:
        when = f"inspected {utc_time(self.inspected)} UTC" if self.inspected else "inspecting…"
        keys = "1-4 ←→ service"
        drift = self.liar.drift.get(self.service)
        if drift is not None and drift.drifted:
            keys += f" · {self._fix_key()} {drift.fix}"
        return f"{when} · {keys} · esc close"

    def _body(self) -> RenderableType:
        app = self.liar
        width = max(40, (self.size.width or 96) - 2)
        parts: list[RenderableType] = []
        head = Text("PROBES", style="bold")
        if app.probes_running:
            head.append("  from this host, every 10 s", style="dim")
        else:
            head.append("  not started yet", style="dim")
        parts.append(head)
        for service in SERVICES:
            last = app.probes.get(service)
            shown = shown_probe(last, app.state_of(service))
            line = probe_line(service, shown, width, selected=service == self.service,
                              none_text="not running: waiting for the next probe" if last is not None else "not probed yet")
            line.no_wrap = True
            line.overflow = "ellipsis"
            parts.append(line)
        parts.append(Text())
        parts.extend(self._probe_detail(app.probes.get(self.service)))
        parts.append(self._drift_text())
        parts.append(self._autoheal_text())
        parts.append(Text())
        return Group(*parts)

    def _content_width(self) -> int:
        """Columns inside the view's frame (the screen's width before the first layout)."""
        if self.is_mounted:
            w = self.query_one("#health-body", Static).content_region.width
            if w > 0:
                return w
        return max(40, (self.size.width or 96) - 2)

    def _stats(self) -> RenderableType:
        """CPU, memory, network and block I/O as the wide panes show them, sparklines included."""
        width = self._content_width()
        lines = render_stats_lines(self.liar.state_of(self.service), self.liar.history(self.service), width,
                                   self._now()[1], self.liar.engine_connected)
        head = Text("\nSTATS", style="bold")
        head.append("  docker stats, last 3 minutes", style="dim")
        return Text("\n").join([head, *lines])

    def _probe_detail(self, result: Any) -> list[RenderableType]:
        if result is None:
            return [Text("probe: no result yet", style="dim")]
        style, glyph, word = LEVEL_STYLE.get(result.level, ("bold red", "?", result.level))
        head = Text()
        head.append("probe ", style="bold")
        head.append(f"{glyph} {word}", style=style)
        head.append(f" · probed {utc_time(result.at)} UTC in {result.seconds * 1000:.0f} ms", style="dim")
        out: list[RenderableType] = [head, Text(result.reason, style="" if result.level == "ok" else style.replace("bold ", ""))]
        rows = probe_figures(result)
        if rows:
            table = Table(box=None, show_header=False, padding=(0, 1), expand=False)
            table.add_column("what", style="dim", no_wrap=True, min_width=14)
            table.add_column("value", overflow="fold")
            for label, value in rows:
                table.add_row(label, value)
            out.append(table)
        return out

    def _drift_text(self) -> Text:
        drift = self.liar.drift.get(self.service)
        out = Text()
        out.append("drift ", style="bold")
        if drift is None:
            out.append("not checked yet", style="dim")
        elif drift.error:
            out.append(drift.summary(), style="dim")
        elif drift.drifted:
            out.append(f"⚠ {'; '.join(drift.reasons)}: {drift.fix} to apply (press {self._fix_key()})", style="bold yellow")
        else:
            out.append(drift.summary(), style="green")
        return out

    def _autoheal_text(self) -> Text:
        app = self.liar
        out = Text()
        out.append("autoheal ", style="bold")
        if not app.autoheal_on:
            out.append("off", style="dim")
            out.append(f" ({app.key_for('autoheal.toggle')} turns it on)", style="dim")
        elif app.autoheal_standby:
            out.append("standing by", style="bold yellow")
            out.append(": another liar-tui heals this project (this one takes over when it stops)", style="yellow")
        else:
            out.append("on", style="bold green")
        st = app.autoheal_status(self.service)
        if st is not None and (st.attempts or st.gave_up):
            out.append(f" · {st.attempts} of {app.autoheal_policy.max_attempts} restarts")
            if st.gave_up and self.state.health.status == "healthy":
                # fixed and restarted by hand: say when autoheal acts again (it looked given up for good)
                out.append(f" · gave up; healthy again: the count resets after "
                           f"{app.autoheal_policy.stable:g}s healthy", style="yellow")
            elif st.gave_up:
                out.append(" · gave up", style="bold red")
            elif st.attempts >= app.autoheal_policy.max_attempts:
                # No further restart will come: a "next allowed in" would promise one.
                out.append(" · no restarts left: gives up if it stays unhealthy", style="yellow")
            elif st.next_allowed_in > 0:
                out.append(f" · next allowed in {st.next_allowed_in:.0f}s")
            if st.waiting_for_recovery:
                out.append(" · waiting for recovery", style="yellow")
        return out

    def _docker_text(self) -> RenderableType:
        """The container, its processes (when the engine's top has answered), its health checks,
        then how it was made (static: last, below what changes)."""
        head, checks = self._container_text(), self._checks_text()
        if self.config is not None and self.state.container_id:
            checks.append_text(self._config_text(self.config))
        if not self.processes:
            return Text.assemble(head, "\n\n", checks)
        return Group(head, Text(""), processes_table(self.processes, self.liar.redact), Text(""), checks)

    def _container_text(self) -> Text:
        st = self.state
        out = Text()
        out.append("docker ", style="bold")
        out.append_text(status_text(st))
        out.append(f"\ncontainer {st.container_name or '-'} ({st.container_id[:12] or '-'})")
        out.append(f"\nimage {st.image or '-'}")
        out.append(f"\nports {ports_text(st)}")
        up = st.uptime_seconds(self._now()[0])
        out.append(f"\nuptime {format_duration(up)} · restarts {st.restart_count}")
        if st.state == "exited":
            out.append(f"\nexit code {st.exit_code}" + (" (OOM killed)" if st.oom_killed else ""))
        if st.error:
            out.append(f"\nerror: {self.liar.redact(st.error)}", style="red")
        return out

    def _config_text(self, c: ContainerConfig) -> Text:
        """Restart policy, memory limit, networks, mounts, command and healthcheck, as compose
        made the container (host paths inside the project shown relative to it)."""
        redact, root = self.liar.redact, str(self.liar.project.root).rstrip("/") + "/"
        out = Text()
        out.append("\n\ncontainer config", style="bold")
        limit = f"memory limit {format_bytes(c.memory_limit)}" if c.memory_limit else "no memory limit"
        out.append(f"\nrestart {c.restart_policy or 'no'} · {limit}")
        for name, ip in c.networks:
            out.append(f"\nnetwork {name}" + (f" {ip}" if ip else ""))
        for m in c.mounts:
            source = m.source[len(root):] if m.source.startswith(root) else m.source
            what = {"volume": "volume ", "tmpfs": "tmpfs"}.get(m.kind, "")
            out.append(f"\nmount {what}{source} → {m.target}" + ("" if m.writable else " (read-only)"))
        if c.command:
            out.append(f"\ncommand {redact(shlex.join(c.command))}")
        if c.check:
            test = c.check[1] if c.check[0] == "CMD-SHELL" and len(c.check) > 1 else shlex.join(c.check[1:] if c.check[0] == "CMD" else c.check)
            # The engine's defaults when compose left a value out: 30 s, 30 s, 3 retries, no start period.
            when = f"every {c.check_interval or 30:g}s, timeout {c.check_timeout or 30:g}s"
            if c.check_start_period:
                when += f", start period {c.check_start_period:g}s"
            out.append(f"\ncheck {redact(test)}")
            out.append(f" · {when}, unhealthy after {c.check_retries or 3} failures", style="dim")
        return out

    def _checks_text(self) -> Text:
        h = self.state.health
        redact = self.liar.redact
        out = Text()
        out.append(f"health {h.status} · failing streak {h.failing_streak}", style="bold")
        if h.status == "unhealthy" and self.state.state in ("paused", "exited"):
            # QA: "unhealthy, failing streak 0" over passing checks read as a contradiction
            key = self.liar.key_for("service.toggle") or "s"
            how = ("a paused container", "resumes") if self.state.state == "paused" else ("a stopped container", "starts")
            out.append(f" (Docker marks {how[0]} unhealthy; {key} {how[1]} it)", style="dim")
        out.append("\n")
        if not h.log:
            out.append("no health checks recorded" if h.status != "none" else "this service has no healthcheck", style="dim")
        for check in reversed(h.log):
            when = check.end or check.start
            took = f"{(check.end - check.start).total_seconds():.2f}s" if check.end and check.start else ""
            ok = check.exit_code == 0
            out.append(f"\n{utc_time(when)} exit {check.exit_code} {took}", style="green" if ok else "bold red")
            output = redact(check.output.strip())
            if output:
                for line in output.splitlines()[-6:]:
                    out.append(f"\n    {line[:300]}", style="dim" if ok else "")
        return out
