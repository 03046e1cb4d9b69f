"""End to end: the installed `liar-tui` in tmux, on a real isolated stack, driven by the keyboard.

What is asserted is what a person sees in the terminal (`tmux capture-pane -p`), cross-checked
with the engine (docker inspect) where the screen makes a claim about the containers.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import liarscreen  # noqa: E402
import stackkit  # noqa: E402
from tmuxkit import TmuxServer, liar_tui_executable, wait_until  # noqa: E402

from liar_tui.stack.project import Project  # noqa: E402

pytestmark = pytest.mark.engine


def started_at(project: Project, service: str) -> str:
    return stackkit.inspect(stackkit.state_of(project, service).container_id)["State"]["StartedAt"]


def launch(tmux: TmuxServer, project: Project, width: int, height: int, session: str = "liar", extra: tuple[str, ...] = (),
           term: str | None = None) -> int:
    """Start the console at exactly width x height (watching, not bringing the stack up); wait for
    every service to show healthy. Returns the PID of the pane's shell (the console is its child);
    the console's exit status lands in exit_status_file(project, session)."""
    pid = tmux.new_session(
        session,
        [*(["env", f"TERM={term}"] if term else []), liar_tui_executable(), "--project-dir", str(project.root), "--project-name", project.name, "--no-up", *extra],
        width,
        height,
        env={"LIAR_TUI_CONFIG": "/nonexistent/liar-tui.toml"},  # no user config changes keys or layout
        cwd=project.root,
        status_file=exit_status_file(project, session),
    )
    assert tmux.size(session) == (width, height)
    tmux.wait_for(session, liarscreen.console_ready, timeout=30, interval=0.05, what="the console, all four services healthy")
    return pid


def exit_status_file(project: Project, session: str) -> Path:
    return project.root / f".exit-status-{session}"


def quit_and_check_gone(tmux: TmuxServer, session: str, pid: int, project: Project) -> None:
    """`q` quits: the console exits with status 0 and leaves no process behind."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    assert any("liar-tui" in " ".join(p.cmdline()) for p in procs), [p.cmdline() for p in procs]
    status_file = exit_status_file(project, session)
    status_file.unlink(missing_ok=True)
    tmux.send_keys(session, "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in procs):
        time.sleep(0.05)
    left = [f"{p.pid} {p.name()}" for p in procs if _alive(p)]
    assert not left, f"processes left after q: {left}; screen:\n{tmux.capture(session)}"
    assert status_file.exists(), f"the console did not end; screen:\n{tmux.capture(session)}"
    assert status_file.read_text().strip() == "0", f"exit status {status_file.read_text().strip()}; screen:\n{tmux.capture(session)}"


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_restart_by_keyboard_at_80x24(running_stack: Project, tmux: TmuxServer) -> None:
    project = running_stack
    pid = launch(tmux, project, 80, 24)
    screen = tmux.capture("liar")
    # all four services, each with its state, in the compact table of a small terminal
    assert liarscreen.statuses(screen) == {s: "healthy" for s in liarscreen.SERVICES}, screen
    assert all(len(line) <= 80 for line in screen.splitlines())

    # select redis by keyboard: the row marker moves and the log view follows redis
    tmux.send_keys("liar", "2")
    tmux.wait_for("liar", lambda s: liarscreen.selected_service(s) == "redis" and liarscreen.log_target(s) == "redis",
                  timeout=5, what="redis selected, its log shown")
    before = started_at(project, "redis")

    # r restarts it: the screen shows the action in progress, then redis healthy again
    tmux.send_keys("liar", "r")
    seen = tmux.wait_for(
        "liar",
        lambda s: "restart redis" in s or liarscreen.service_status(s, "redis") not in ("healthy", None),
        timeout=10,
        interval=0.01,
        what="the restart of redis in progress",
    )
    in_progress = seen.screen
    assert "⟳ restart redis" in in_progress or liarscreen.service_status(in_progress, "redis") in (
        "starting", "restarting", "exited (0)", "running"
    ), in_progress
    done = tmux.wait_for(
        "liar",
        lambda s: liarscreen.service_status(s, "redis") == "healthy" and "✓ restart redis" in s,
        timeout=90,
        interval=0.1,
        what="redis healthy again after the restart",
    )
    assert liarscreen.all_healthy(done.screen), done.screen
    # the screen's claim, checked with the engine: a new start, running and healthy
    state = stackkit.state_of(project, "redis")
    assert started_at(project, "redis") != before
    assert state.running and state.health.status == "healthy"
    # the restart ran in the action helper: python-on-whales (pydantic) never loaded in the console
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    helpers = [p for p in procs if "liar_tui.stack.actionhost" in " ".join(p.cmdline())]
    console = next(p for p in procs if p.cmdline()[1:2] and p.cmdline()[1].endswith("/liar-tui"))
    assert len(helpers) == 1 and helpers[0].ppid() == console.pid, [p.cmdline() for p in procs]
    assert "pydantic_core" not in Path(f"/proc/{console.pid}/maps").read_text()

    quit_and_check_gone(tmux, "liar", pid, project)  # the helper too


def test_exited_service_shown_and_started_by_keyboard_at_80x24(running_stack: Project, tmux: TmuxServer) -> None:
    project = running_stack
    pid = launch(tmux, project, 80, 24)
    tmux.send_keys("liar", "4")  # minio
    tmux.wait_for("liar", lambda s: liarscreen.selected_service(s) == "minio", timeout=5, what="minio selected")
    container = stackkit.state_of(project, "minio").container_id
    try:
        subprocess.run(["docker", "kill", container], check=True, capture_output=True)
        killed = tmux.wait_for("liar", lambda s: liarscreen.service_status(s, "minio") == "exited (137)", timeout=5,
                               what="minio shown exited (137)")
        assert liarscreen.statuses(killed.screen) == {
            "postgres": "healthy", "redis": "healthy", "nginx": "healthy", "minio": "exited (137)"
        }, killed.screen
        # s starts a stopped service
        tmux.send_keys("liar", "s")
        tmux.wait_for("liar", lambda s: liarscreen.service_status(s, "minio") == "healthy", timeout=90, interval=0.1,
                      what="minio healthy after s")
        assert stackkit.state_of(project, "minio").running
    finally:
        subprocess.run(["docker", "start", container], capture_output=True)
        stackkit.wait_health(project, "minio", "healthy")
    quit_and_check_gone(tmux, "liar", pid, project)


def test_console_opened_without_an_engine_says_why_at_once(tmux: TmuxServer, tmp_path: Path) -> None:
    """Launched while nothing listens at DOCKER_HOST: the console says so, with the fix, instead of
    "connecting…" forever (the monitor reports a failure once, maybe before the app listens)."""
    project = stackkit.make_project(tmp_path / "p")
    sock = tmp_path / "none.sock"
    for width, height in ((200, 50), (80, 24)):
        session = f"noengine{width}"
        tmux.new_session(
            session,
            [liar_tui_executable(), "--project-dir", str(project.root), "--project-name", project.name, "--no-up"],
            width,
            height,
            env={"LIAR_TUI_CONFIG": "/nonexistent/liar-tui.toml", "DOCKER_HOST": f"unix://{sock}"},
            cwd=project.root,
        )
        seen = tmux.wait_for(session, lambda s: "engine unreachable" in s, timeout=15, what="the engine marked unreachable")
        assert "engine: connecting" not in seen.screen, seen.screen
        if width == 200:
            assert f"nothing listens at DOCKER_HOST=unix://{sock}" in seen.screen, seen.screen
        tmux.send_keys(session, "q")


def test_a_dumb_terminal_gets_the_whole_console_and_leaves_the_cpu_idle(running_stack: Project, tmux: TmuxServer) -> None:
    """QA: with TERM=dumb Rich sized the app's console 80x25 in an 80x24 pane, and the main screen
    bounced between the two sizes without end: a core at 100%, half a frame, no log, no footer."""
    session = "dumb"
    pid = launch(tmux, running_stack, 80, 24, session=session, term="dumb")  # (tmux's -e cannot set TERM)
    tmux.wait_for(session, lambda s: "? Help" in s, timeout=15, what="the footer")
    console = next(p for p in psutil.Process(pid).children(recursive=True) if "liar-tui" in " ".join(p.cmdline()))
    time.sleep(2.0)  # past start-up's work
    before = sum(console.cpu_times()[:2])
    time.sleep(3.0)
    used = sum(console.cpu_times()[:2]) - before
    assert used < 1.0, f"{used:.2f} s of CPU in 3 s idle; screen:\n{tmux.capture(session)}"
    quit_and_check_gone(tmux, session, pid, running_stack)


def test_large_terminal_cards_help_and_quit_at_200x50(running_stack: Project, tmux: TmuxServer) -> None:
    project = running_stack
    pid = launch(tmux, project, 200, 50)
    screen = tmux.capture("liar")
    # one card per service, side by side, each with its published port
    for service in liarscreen.SERVICES:
        assert liarscreen.has_card(screen, service), screen
    assert liarscreen.selected_service(screen) == "postgres"  # its card's border is heavy
    env = project.env()
    for var in ("POSTGRES_PORT", "REDIS_PORT", "NGINX_HTTP_PORT", "MINIO_API_PORT"):
        assert f"{env[var]}→" in screen, f"{var}={env[var]} not on screen:\n{screen}"
    assert liarscreen.log_target(screen) == "postgres"
    # no secret on screen
    for var in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD"):
        assert env[var] not in screen

    tmux.send_keys("liar", "?")
    expected = ("liar-tui keys", "Restart the selected service", "service.restart", "Search the log")
    tmux.wait_for("liar", lambda s: all(text in s for text in expected), timeout=5, what="the help screen with its keys")
    tmux.send_keys("liar", "Escape")
    tmux.wait_for("liar", lambda s: "liar-tui keys" not in s and liarscreen.all_healthy(s), timeout=5,
                  what="help closed")
    time.sleep(0.2)  # an Escape followed at once by a key reads as alt+key
    quit_and_check_gone(tmux, "liar", pid, project)


def test_live_states_drawn_before_the_console_and_the_shell_screen_back_after_quit(running_stack: Project, tmux: TmuxServer) -> None:
    """The engine's answer is on screen before Textual has loaded (ui/prepaint.py): each service's
    live status, as the engine has it. The console then paints over it; after `q` the terminal is
    out of the alternate screen with the shell's screen as it was."""
    project = running_stack
    exe = liar_tui_executable()
    status_file = exit_status_file(project, "pre")
    status_file.unlink(missing_ok=True)
    command = (
        "printf 'shell line before liar-tui\\n'; read _; "
        f"{shlex.join([exe, '--project-dir', str(project.root), '--project-name', project.name, '--no-up'])}; "
        f"echo $? > {shlex.quote(str(status_file))}; sleep 60"
    )
    tmux.new_session("pre", command, 100, 30, env={"LIAR_TUI_CONFIG": "/nonexistent/liar-tui.toml"}, cwd=project.root)
    tmux.wait_for("pre", lambda s: "shell line before liar-tui" in s, timeout=10, what="the shell's line")
    t0 = time.monotonic()
    tmux.send_keys("pre", "Enter")
    first = tmux.wait_for("pre", lambda s: "starting the console…" in s and liarscreen.all_healthy(s), timeout=30,
                          since=t0, what="the pre-painted frame with all four healthy")
    assert not liarscreen.log_bar(first.screen)  # not yet the console
    for service in liarscreen.SERVICES:  # what it claims is what the engine says
        assert stackkit.state_of(project, service).health.status == "healthy"
    console = tmux.wait_for("pre", liarscreen.console_ready, timeout=30, since=t0, what="the console's own frame")
    assert console.seconds > first.seconds
    assert "starting the console…" not in console.screen  # every cell painted over
    tmux.send_keys("pre", "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not status_file.exists():
        time.sleep(0.05)
    assert status_file.exists() and status_file.read_text().strip() == "0", tmux.capture("pre")
    assert tmux.run("display-message", "-p", "-t", "pre", "#{alternate_on}").strip() == "0"
    assert "shell line before liar-tui" in tmux.capture("pre")


def _secrets_on_command_lines(project: Project) -> list[str]:
    """Every process on this host (containers' included) whose command line holds one of the
    project's passwords."""
    env = project.env()
    secret_values = [env[k] for k in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD")]
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if any(value in line for value in secret_values):
            found.append(f"{proc.info['pid']}: <a command line holding a password>")
    return found


def test_shells_open_and_return_to_the_console_at_80x24(running_stack: Project, tmux: TmuxServer) -> None:
    """E hands the real terminal to redis-cli (authenticated) and psql (the stack's user on its
    database); leaving them brings the console back, live, with the result noted. No password is
    on any command line on this host while they run."""
    project = running_stack
    env = project.env()
    pid = launch(tmux, project, 80, 24)

    # redis-cli: a write proves the shell is authenticated (redis refuses it with NOAUTH otherwise)
    tmux.send_keys("liar", "2")
    tmux.wait_for("liar", lambda s: liarscreen.selected_service(s) == "redis", timeout=5, what="redis selected")
    tmux.send_keys("liar", "E")
    tmux.wait_for("liar", lambda s: "6379>" in s, timeout=20, what="the redis-cli prompt")
    assert _secrets_on_command_lines(project) == []
    tmux.send_keys("liar", "SET e2e:shell from-the-console", literal=True)
    tmux.send_keys("liar", "Enter")
    # the answer, then the prompt again: keys typed before the shell reads its next line can be
    # dropped when it puts the terminal back into its line-editing mode (seen once with psql)
    tmux.wait_for("liar", lambda s: prompt_after(s, "SET e2e:shell", "OK", "6379>"), timeout=10, what="OK from redis")
    assert stackkit.redis_client(project).get("e2e:shell") == b"from-the-console"
    tmux.send_keys("liar", "exit", literal=True)
    tmux.send_keys("liar", "Enter")
    back = tmux.wait_for("liar", lambda s: liarscreen.console_ready(s) and "redis-cli in redis ended (exit 0)" in s,
                         timeout=20, what="the console back after redis-cli")
    assert liarscreen.all_healthy(back.screen), back.screen

    # psql on the stack's database as its user
    tmux.send_keys("liar", "1")
    tmux.wait_for("liar", lambda s: liarscreen.selected_service(s) == "postgres", timeout=5, what="postgres selected")
    tmux.send_keys("liar", "E")
    prompt = f"{env['POSTGRES_DB']}=#"
    tmux.wait_for("liar", lambda s: prompt in s, timeout=20, what=f"the psql prompt {prompt}")
    assert _secrets_on_command_lines(project) == []
    tmux.send_keys("liar", "SELECT current_user || '@' || current_database() AS who;", literal=True)
    tmux.send_keys("liar", "Enter")
    who = f"{env['POSTGRES_USER']}@{env['POSTGRES_DB']}"
    tmux.wait_for("liar", lambda s: prompt_after(s, "AS who;", who, prompt), timeout=10, what=f"psql answering {who}")
    tmux.send_keys("liar", "\\q", literal=True)
    tmux.send_keys("liar", "Enter")
    back = tmux.wait_for("liar", lambda s: liarscreen.console_ready(s) and "psql in postgres ended (exit 0)" in s,
                         timeout=20, what="the console back after psql")
    # both shells are in the activity log, opened and closed
    from liar_tui.stack.activity import activity_path, read_entries

    said = [f"{e.service}|{e.text}" for e in read_entries(activity_path(project), 20)]
    for service, label in (("redis", "redis-cli"), ("postgres", "psql")):
        assert f"{service}|{label} shell opened from the console" in said, said
        assert f"{service}|{label} shell closed (exit 0)" in said, said
    # a shell that ends in failure: its last words stay on screen until Enter (the console
    # would paint over them at once)
    tmux.send_keys("liar", "3")
    tmux.wait_for("liar", lambda s: liarscreen.selected_service(s) == "nginx", timeout=5, what="nginx selected")
    tmux.send_keys("liar", "E")
    tmux.wait_for("liar", lambda s: s.rstrip().endswith("#"), timeout=20, what="the sh prompt in nginx")
    tmux.send_keys("liar", "echo last-words-$((6*7)); exit 3", literal=True)
    tmux.send_keys("liar", "Enter")
    tmux.wait_for("liar", lambda s: "press Enter to return to the console" in s, timeout=20,
                  what="the failed shell waiting for Enter")
    time.sleep(0.5)
    held = tmux.capture("liar")
    assert "last-words-42" in held and "sh in nginx ended (exit 3)" in held, held
    tmux.send_keys("liar", "Enter")
    tmux.wait_for("liar", lambda s: liarscreen.console_ready(s) and "sh in nginx ended (exit 3)" in s,
                  timeout=20, what="the console back after the failed shell")
    # live again after resuming: a kill reaches the screen
    container = stackkit.state_of(project, "nginx").container_id
    try:
        subprocess.run(["docker", "kill", container], check=True, capture_output=True)
        tmux.wait_for("liar", lambda s: liarscreen.service_status(s, "nginx") == "exited (137)", timeout=5,
                      what="nginx shown exited after the shells")
    finally:
        subprocess.run(["docker", "start", container], capture_output=True)
        stackkit.wait_health(project, "nginx", "healthy")
    quit_and_check_gone(tmux, "liar", pid, project)


def _in_container(project: Project, service: str, program: str) -> list[str]:
    """The command lines of `service`'s container that run `program` (docker top)."""
    cid = stackkit.state_of(project, service).container_id
    top = stackkit.Engine().api.top(cid, ps_args="-eo pid,args")
    return [" ".join(row) for row in top["Processes"] if program in " ".join(row)]


def _psql_sessions(project: Project) -> list[tuple]:
    """The database's connections from psql (the shell's), with their state."""
    with stackkit.pg_connect(project) as conn:
        rows = conn.execute("SELECT pid, state FROM pg_stat_activity WHERE application_name = 'psql'").fetchall()
    return list(rows)


def test_a_shell_whose_terminal_goes_away_leaves_nothing_in_the_container(running_stack: Project, tmux: TmuxServer) -> None:
    """An SSH connection dropped while psql is open from the console (or redis-cli from `liar-tui
    shell`): Docker does not end an exec'd program when its client dies, so psql lived on in the
    container, its transaction open, for ever. Closing the terminal (tmux kill-session: the pane's
    terminal hangs up, as sshd's does) now ends them, and the activity log says so. A docker client
    killed by itself has its psql ended too, and leaves the terminal usable."""
    project = running_stack
    env = project.env()
    pid = launch(tmux, project, 80, 24)
    tmux.send_keys("liar", "1")
    tmux.wait_for("liar", lambda s: liarscreen.selected_service(s) == "postgres", timeout=5, what="postgres selected")
    prompt = f"{env['POSTGRES_DB']}=#"

    # first the docker client alone is killed: psql is ended in the container too, and the
    # terminal, which the client left raw, is put back, so Enter returns to the console
    tmux.send_keys("liar", "E")
    tmux.wait_for("liar", lambda s: prompt in s, timeout=20, what=f"the psql prompt {prompt}")
    clients = [p for p in psutil.Process(pid).children(recursive=True) if "LIAR_TUI_SHELL" in " ".join(p.cmdline())]
    assert clients
    for p in clients:
        p.kill()
    tmux.wait_for("liar", lambda s: "ended (exit 137); press Enter to return" in s, timeout=20, what="the killed shell said")
    wait_until(lambda: not _in_container(project, "postgres", "psql"), timeout=15, what="psql ended after its client was killed")
    tmux.send_keys("liar", "Enter")
    tmux.wait_for("liar", lambda s: liarscreen.console_ready(s) and "psql in postgres ended (exit 137)" in s,
                  timeout=20, what="the console back after the killed client")

    # then the terminal goes away with psql in a transaction
    tmux.send_keys("liar", "E")
    tmux.wait_for("liar", lambda s: prompt in s, timeout=20, what=f"the psql prompt {prompt}")
    tmux.send_keys("liar", "BEGIN; SELECT 'in-' || 'transaction' AS t;", literal=True)
    tmux.send_keys("liar", "Enter")
    tmux.wait_for("liar", lambda s: prompt_after(s, "AS t;", "in-transaction", f"{env['POSTGRES_DB']}=*#"), timeout=10,
                  what="psql in a transaction")
    assert [state for _, state in _psql_sessions(project)] == ["idle in transaction"]
    tmux.kill_session("liar")
    wait_until(lambda: not _in_container(project, "postgres", "psql"), timeout=15,
                        what="psql ended in the container after its terminal went away")
    wait_until(lambda: not _psql_sessions(project), timeout=10, what="psql's connection (and transaction) gone")

    # headless: `liar-tui shell redis` on a terminal that goes away
    tmux.new_session("cli", [liar_tui_executable(), "--project-dir", str(project.root), "--project-name", project.name,
                             "shell", "redis"], 80, 24, cwd=project.root)
    tmux.wait_for("cli", lambda s: "6379>" in s, timeout=20, what="the redis-cli prompt")
    assert _in_container(project, "redis", "redis-cli")
    tmux.kill_session("cli")
    wait_until(lambda: not _in_container(project, "redis", "redis-cli"), timeout=15,
                        what="redis-cli ended in the container after its terminal went away")

    from liar_tui.stack.activity import activity_path, read_entries

    # the note is written after the sweep has ended the processes, so the container can be clean a
    # moment before the activity log says so (CI once read the log in that moment)
    wanted = [f"{service}|{label} shell ended by SIGHUP (its terminal went away); 1 of its processes in the container ended"
              for service, label in (("postgres", "psql"), ("redis", "redis-cli"))]

    def said() -> list[str]:
        return [f"{e.service}|{e.text}" for e in read_entries(activity_path(project), 20)]

    deadline = time.monotonic() + 10
    lines = said()
    while not all(line in lines for line in wanted) and time.monotonic() < deadline:
        time.sleep(0.2)
        lines = said()
    assert all(line in lines for line in wanted), lines


def test_ctrl_z_suspends_to_the_shell_and_fg_brings_the_console_back_live(running_stack: Project, tmux: TmuxServer) -> None:
    """ctrl+z, as in any terminal program: the shell's prompt, the console stopped (no CPU); `fg`
    brings it back whole (the table's header too: it stayed blank, Textual repainting only what
    changed) and live (a service killed meanwhile is shown exited). Started where no shell could
    bring it back, ctrl+z says so instead of freezing the console for good (Textual's SIGSTOP)."""
    project = running_stack
    tmux.new_session("jobs", "exec bash --norc --noprofile -i", 80, 24, cwd=project.root,
                     env={"LIAR_TUI_CONFIG": "/nonexistent/liar-tui.toml"})

    def at_prompt(screen: str) -> bool:
        return re.search(r"bash-[\d.]+[#$]$", screen.rstrip()) is not None

    tmux.wait_for("jobs", at_prompt, timeout=10, what="the shell's prompt")
    command = shlex.join([liar_tui_executable(), "--project-dir", str(project.root), "--project-name", project.name, "--no-up"])
    tmux.send_keys("jobs", command, literal=True)
    tmux.send_keys("jobs", "Enter")
    tmux.wait_for("jobs", liarscreen.console_ready, timeout=30, what="the console, all four healthy")
    console = next(p for p in psutil.Process(tmux.pane_pid("jobs")).children(recursive=True) if "--no-up" in p.cmdline())
    tmux.send_keys("jobs", "C-z")
    tmux.wait_for("jobs", lambda s: "Stopped" in s and at_prompt(s), timeout=10, what="the job stopped, the prompt")
    assert console.status() == psutil.STATUS_STOPPED
    container = stackkit.state_of(project, "nginx").container_id
    try:
        subprocess.run(["docker", "kill", container], check=True, capture_output=True)
        tmux.send_keys("jobs", "fg", literal=True)
        tmux.send_keys("jobs", "Enter")
        # The engine's event can be painted a few ms before the whole-screen repaint: a frame with
        # only the changed row is a moment between two paints, not the end state. Without the
        # repaint the header never comes back and this wait times out.
        tmux.wait_for("jobs", lambda s: liarscreen.service_status(s, "nginx") == "exited (137)" and "SERVICE" in s and "STATUS" in s,
                      timeout=15, what="the console back whole (the table's header too), nginx shown exited")
    finally:
        subprocess.run(["docker", "start", container], capture_output=True)
        stackkit.wait_health(project, "nginx", "healthy")
    tmux.send_keys("jobs", "q")
    tmux.wait_for("jobs", at_prompt, timeout=15, what="the shell after q")

    # no job-control shell (the pane runs the console itself): a note, and the console goes on
    pid = launch(tmux, project, 80, 24)
    tmux.send_keys("liar", "C-z")
    tmux.wait_for("liar", lambda s: "no shell to return to" in s, timeout=5, what="the note")
    assert all(p.status() != psutil.STATUS_STOPPED for p in psutil.Process(pid).children(recursive=True))
    quit_and_check_gone(tmux, "liar", pid, project)


def prompt_after(screen: str, command: str, answer: str, prompt: str) -> bool:
    """After the last `command` on the screen: its `answer`, then the shell's `prompt` again."""
    rest = screen.rsplit(command, 1)[-1]
    return answer in rest and prompt in rest.split(answer, 1)[1]


def mouse_tracking(tmux: TmuxServer, session: str) -> str:
    """Whether the program in the pane asked the terminal for mouse events ('1') or not ('0')."""
    return tmux.ctl(f"display-message -p -t {session} '#{{mouse_any_flag}}'").strip()


def test_no_mouse_leaves_the_terminal_mouse_alone_and_keys_remap_from_the_command_line(
    running_stack: Project, tmux: TmuxServer
) -> None:
    """Over SSH people select text with the mouse: --no-mouse must not turn mouse reporting on
    (the default does, so the check can fail). --keys remaps a binding by id, and ? shows it."""
    project = running_stack
    pid = launch(tmux, project, 80, 24, "plain")
    assert mouse_tracking(tmux, "plain") == "1"
    quit_and_check_gone(tmux, "plain", pid, project)

    pid = launch(tmux, project, 80, 24, "nomouse", ("--no-mouse", "--keys", "app.help=F2"))
    assert mouse_tracking(tmux, "nomouse") == "0"
    tmux.send_keys("nomouse", "?")
    time.sleep(0.5)
    assert "liar-tui keys" not in tmux.capture("nomouse")  # ? is no longer help
    tmux.send_keys("nomouse", "F2")
    tmux.wait_for("nomouse", lambda s: "liar-tui keys" in s, timeout=5, what="help on F2")
    tmux.send_keys("nomouse", "Escape")
    tmux.wait_for("nomouse", liarscreen.console_ready, timeout=5, what="help closed")
    quit_and_check_gone(tmux, "nomouse", pid, project)
