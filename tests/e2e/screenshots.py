"""Regenerate screenshots/*.svg from the real liar-tui on a real, isolated stack.

    .venv/bin/python tests/e2e/screenshots.py [--size 120x36] [--out screenshots]

Brings up its own stack (project `liar-demo`, free 127.0.0.1 ports, fresh passwords), runs the
installed `liar-tui` in a private tmux server, drives it with the keyboard to each view, captures
the pane with its colours (`tmux capture-pane -p -e`) and renders each capture to SVG with Rich.
Then it checks that no secret of the project's .env (nor of compose/.env, if present) appears in
any picture, and removes the stack. Pictures:

    main.svg          the four services, stats sparklines, the selected service's log
    logs-search.svg   the log view with a search (matches highlighted, n/N to jump)
    health.svg        health detail of a service (last checks, failing streak)
    help.svg          every key (`?`)
    action.svg        an action in progress (`r` restarting redis)
    backups.svg       the Backups view (`V`): a new set (`n`), verified (`v`), shown in full
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import liarscreen  # noqa: E402
import stackkit  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.text import Text  # noqa: E402
from tmuxkit import TmuxServer  # noqa: E402

from liar_tui.stack.buckets import ensure_buckets  # noqa: E402
from liar_tui.stack.compose import Stack  # noqa: E402
from liar_tui.stack.envfile import read_env  # noqa: E402

SESSION = "liar"
SECRET_KEYS = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY$)")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def liar_tui_executable() -> str:
    exe = Path(sys.executable).parent / "liar-tui"
    if exe.exists():
        return str(exe)
    found = shutil.which("liar-tui")
    if not found:
        raise SystemExit("liar-tui is not installed next to this Python: run `.venv/bin/pip install -e .`")
    return found


def secrets_of(*env_files: Path) -> set[str]:
    """Values of the secret settings (passwords, keys) in the given .env files."""
    found: set[str] = set()
    for path in env_files:
        if path.exists():
            for key, value in read_env(path).items():
                if SECRET_KEYS.search(key) and len(value) >= 6:
                    found.add(value)
    return found


def seed_objects(project: Any) -> None:
    s3 = stackkit.s3_client(project)
    for i in range(12):
        s3.put_object("game-logs", f"2026-11-26/room-{i:03d}.log", io.BytesIO(b"round ended\n" * 400), 4800)
    s3.put_object("replays", "room-007.replay", io.BytesIO(b"\0" * 1_500_000), 1_500_000)


def traffic(project: Any, stop: threading.Event) -> None:
    """Requests through nginx to the API and writes to redis, twice a second."""
    import urllib.request

    url = f"http://127.0.0.1:{stackkit.port(project, 'NGINX_HTTP_PORT')}/api/rooms"
    r = stackkit.redis_client(project)
    i = 0
    while not stop.wait(0.5):
        i += 1
        try:
            urllib.request.urlopen(url, timeout=2).read()
            r.set(f"room:{i % 50}", "x" * 2000, ex=600)
        except Exception:  # noqa: BLE001 - a missed request only makes a quieter picture
            pass


def capture(tmux: TmuxServer) -> str:
    # -e: colours; -N: keep trailing spaces (their background belongs to the picture)
    return tmux.ctl(f"capture-pane -p -e -N -t {SESSION}")


def to_svg(ansi: str, width: int, title: str) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), color_system="truecolor", force_terminal=True,
                      legacy_windows=False)
    lines = ansi.rstrip("\n").split("\n")
    for i, line in enumerate(lines):
        text = Text.from_ansi(line, no_wrap=True, end="")
        text.truncate(width)
        console.print(text, end="\n" if i < len(lines) - 1 else "", soft_wrap=True, crop=True, overflow="crop")
    return console.export_svg(title=title)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate screenshots/*.svg from the real app on a real stack.")
    parser.add_argument("--size", default="120x36", help="terminal size (default 120x36)")
    parser.add_argument("--out", default=str(REPO / "screenshots"), help="folder for the SVGs (default screenshots/)")
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    missing = stackkit.missing_images()
    if missing:
        raise SystemExit(f"images missing: {', '.join(missing)}: run `bash compose/images/build.sh` (or `liar-tui setup`)")
    workdir = Path(tempfile.mkdtemp(prefix="liar-shots-"))
    api_port = stackkit.free_port()
    project = stackkit.make_project(workdir, name="liar-demo", api_port=api_port)
    shots: dict[str, str] = {}
    api = stackkit.HostApi(api_port)
    stop_traffic = threading.Event()
    try:
        stackkit.destroy(project)
        log(f"bringing up {project.name} in {workdir}")
        result = Stack(project).up(wait=True, wait_timeout=240)
        if not result.ok:
            raise SystemExit(f"the stack did not come up: {result.message}")
        stackkit.wait_all_healthy(project)
        # as `liar-tui up` leaves it: the expected buckets; and an API on the host behind nginx, a
        # little traffic and data, so the panes' figures and the probes are those of a stack in use
        ensure_buckets(project, wait=60)
        seed_objects(project)
        stackkit.require_local_host_gateway(project)
        api.start()
        threading.Thread(target=traffic, args=(project, stop_traffic), daemon=True).start()
        with TmuxServer() as tmux:
            tmux.new_session(
                SESSION,
                [liar_tui_executable(), "--project-dir", str(project.root), "--project-name", project.name, "--no-up"],
                width,
                height,
                env={"LIAR_TUI_CONFIG": "/nonexistent/liar-tui.toml"},
                cwd=project.root,
            )
            tmux.wait_for(SESSION, liarscreen.console_ready, timeout=60, interval=0.1, what="the console, all services healthy")
            time.sleep(45)  # stats for the sparklines

            # main view
            shots["main"] = capture(tmux)

            # health detail of postgres
            tmux.send_keys(SESSION, "1")
            time.sleep(0.3)
            tmux.send_keys(SESSION, "H")
            # (Docker's failing streak is further down, under the processes: scrolled out of the picture)
            tmux.wait_for(SESSION, lambda s: "inspected" in s and "processes (" in s, timeout=10,
                          what="the health detail, freshly inspected")
            time.sleep(0.5)
            shots["health"] = capture(tmux)
            tmux.send_keys(SESSION, "Escape")
            time.sleep(0.5)

            # help
            tmux.send_keys(SESSION, "?")
            tmux.wait_for(SESSION, lambda s: "liar-tui keys" in s and "Restart the selected service" in s, timeout=10,
                          what="the help screen")
            time.sleep(0.5)
            shots["help"] = capture(tmux)
            tmux.send_keys(SESSION, "Escape")
            time.sleep(0.5)

            # an action in progress: restart redis
            tmux.send_keys(SESSION, "2")
            tmux.wait_for(SESSION, lambda s: liarscreen.log_target(s) == "redis", timeout=10, what="redis selected")
            time.sleep(1.0)
            tmux.send_keys(SESSION, "r")
            seen = tmux.wait_for(
                SESSION,
                # '⟳ restart redis…', then compose's own steps: '⟳ restart: Container liar-demo-redis Restarting'
                lambda s: any(ln.lstrip().startswith("⟳ restart") and "redis" in ln for ln in s.splitlines())
                and liarscreen.service_status(s, "redis") != "healthy",
                timeout=20,
                interval=0.02,
                what="the restart of redis in progress",
            )
            del seen
            shots["action"] = capture(tmux)
            tmux.wait_for(SESSION, lambda s: "✓ restart redis" in s and liarscreen.all_healthy(s), timeout=120,
                          interval=0.2, what="redis healthy again")
            # logs with a search (last: the search stays on): postgres's log, 'database system', jump to a match
            tmux.send_keys(SESSION, "1")
            tmux.wait_for(SESSION, lambda s: liarscreen.log_target(s) == "postgres", timeout=10, what="postgres selected")
            time.sleep(1.0)
            tmux.send_keys(SESSION, "/")
            # type only once the search box is shown: letters are keys of the console (s stops a service)
            tmux.wait_for(SESSION, lambda s: "search (regex)" in s, timeout=10, what="the search box")
            time.sleep(0.3)
            tmux.send_keys(SESSION, "database system", literal=True)
            tmux.wait_for(SESSION, lambda s: "matching lines" in s, timeout=10, what="the search counting matches")
            tmux.send_keys(SESSION, "Enter")
            time.sleep(1.0)
            shots["logs-search"] = capture(tmux)
            tmux.send_keys(SESSION, "Escape")
            time.sleep(0.5)

            # backups: a new set, verified, shown in full under the list
            tmux.send_keys(SESSION, "V")
            tmux.wait_for(SESSION, lambda s: "BACKUPS" in s and "no backup sets yet" in s, timeout=10, what="the backups view")
            tmux.send_keys(SESSION, "n")
            tmux.wait_for(SESSION, lambda s: "complete:" in s and "esc/enter closes" in s, timeout=120, what="the backup done")
            tmux.send_keys(SESSION, "Escape")
            time.sleep(0.5)
            tmux.send_keys(SESSION, "v")
            tmux.wait_for(SESSION, lambda s: "OK in" in s and "esc/enter closes" in s, timeout=120, what="the verify done")
            tmux.send_keys(SESSION, "Escape")
            tmux.wait_for(SESSION, lambda s: "last verify" in s and "✓ passed" in s, timeout=10, what="the set's detail")
            time.sleep(0.5)
            shots["backups"] = capture(tmux)
            tmux.send_keys(SESSION, "Escape")
            time.sleep(0.5)

            tmux.send_keys(SESSION, "q")
            time.sleep(1.0)

        titles = {
            "main": "liar-tui · the stack",
            "logs-search": "liar-tui · logs with a search",
            "health": "liar-tui · health detail",
            "help": "liar-tui · keys",
            "action": "liar-tui · restarting redis",
            "backups": "liar-tui · backups: a verified set",
        }
        secrets = secrets_of(project.env_file, REPO / "compose" / ".env")
        if not secrets:
            raise SystemExit("found no secrets in the project's .env to check against")
        written = []
        for name, ansi in shots.items():
            svg = to_svg(ansi, width, titles[name])
            leaked = [s for s in secrets if s in ansi or s in svg]
            if leaked:
                raise SystemExit(f"{name}: a secret from .env appears in the picture: refusing to write it")
            path = out / f"{name}.svg"
            path.write_text(svg)
            written.append(path)
        # every picture in the folder, old ones too, must be clean
        for path in out.glob("*.svg"):
            text = path.read_text(errors="replace")
            leaked = [s for s in secrets if s in text]
            if leaked:
                raise SystemExit(f"{path}: contains a secret from .env")
        for path in written:
            log(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path} ({path.stat().st_size // 1024} KiB)")
        log(f"checked {len(secrets)} secrets: none appears in {out}")
    finally:
        stop_traffic.set()
        api.stop()
        log(f"removing {project.name}")
        stackkit.destroy(project)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
