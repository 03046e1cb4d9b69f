from __future__ import annotations

from pathlib import Path

import pytest

from liar_tui.stack.errors import ProjectNotFound
from liar_tui.stack.project import discover


def _checkout(root: Path) -> Path:
    (root / "compose").mkdir(parents=True)
    (root / "compose" / "docker-compose.yml").write_text("services: {}\n")
    return root


def test_explicit_dir_wins_over_env_and_cwd(tmp_path: Path) -> None:
    a, b, c = _checkout(tmp_path / "a"), _checkout(tmp_path / "b"), _checkout(tmp_path / "c")
    p = discover(a, cwd=c, environ={"LIAR_TUI_PROJECT_DIR": str(b)})
    assert p.root == a.resolve()
    p = discover(None, cwd=c, environ={"LIAR_TUI_PROJECT_DIR": str(b)})
    assert p.root == b.resolve()


def test_nearest_parent_holding_compose(tmp_path: Path) -> None:
    root = _checkout(tmp_path / "repo")
    deep = root / "x" / "y"
    deep.mkdir(parents=True)
    assert discover(None, cwd=deep, environ={}).root == root.resolve()


def test_falls_back_to_the_bundled_stack(tmp_path: Path) -> None:
    p = discover(None, cwd=tmp_path, environ={})
    assert p.compose_file.is_file()


def test_wrong_dir_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound) as err:
        discover(tmp_path / "nothing", environ={})
    msg = str(err.value)
    assert "\n" not in msg and "--project-dir" in msg and "point it at" in msg


def test_project_name_from_env(tmp_path: Path) -> None:
    root = _checkout(tmp_path / "r")
    assert discover(root, environ={"LIAR_TUI_PROJECT_NAME": "other"}).name == "other"
    assert discover(root, environ={}).name == "liar-game"


def test_project_options_before_or_after_the_subcommand() -> None:
    from liar_tui.cli import build_parser

    parse = build_parser().parse_args
    for argv in (["--project-dir", "/x", "status"], ["status", "--project-dir", "/x"],
                 ["backup", "list", "--project-dir", "/x"], ["restore", "S", "--project-dir=/x", "--yes"]):
        assert parse(argv).project_dir == "/x", argv
    both = parse(["--project-dir", "/x", "--project-name", "a", "status", "--project-name", "b"])
    assert (both.project_dir, both.project_name) == ("/x", "b")  # the later one wins; the earlier is kept
    assert parse(["status"]).project_dir is None


def test_a_wheels_bundled_stack_is_copied_out_and_upgraded_unless_edited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from liar_tui.stack.project import _materialise_bundled

    bundled = tmp_path / "site" / "liar_tui" / "bundled"
    (bundled / "compose").mkdir(parents=True)
    (bundled / "nginx").mkdir()
    (bundled / "compose" / "docker-compose.yml").write_text("services: {v: 1}\n")
    (bundled / "nginx" / "nginx.conf").write_text("events {} # v1\n")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    target = _materialise_bundled(bundled)
    assert target == tmp_path / "xdg" / "liar-tui" / "project"
    assert (target / "compose" / "docker-compose.yml").read_text() == "services: {v: 1}\n"

    (target / "nginx" / "nginx.conf").write_text("events {} # mine\n")  # the user's edit
    (bundled / "compose" / "docker-compose.yml").write_text("services: {v: 2}\n")  # an upgrade
    (bundled / "nginx" / "nginx.conf").write_text("events {} # v2\n")
    (bundled / "compose" / ".env.example").write_text("A=1\n")  # a file the new version adds
    _materialise_bundled(bundled)
    assert (target / "compose" / "docker-compose.yml").read_text() == "services: {v: 2}\n"
    assert (target / "nginx" / "nginx.conf").read_text() == "events {} # mine\n"
    assert (target / "compose" / ".env.example").read_text() == "A=1\n"


def test_the_wheel_ships_the_stack_and_runs_it_from_anywhere(tmp_path: Path) -> None:
    """The real wheel (hatchling's force-include): unpacked and imported first, run from a folder
    with no compose file, it finds its bundled stack and copies it out of site-packages."""
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).resolve().parents[2]
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(repo)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [wheel] = list((tmp_path / "dist").glob("liar_tui-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert {"liar_tui/bundled/compose/docker-compose.yml", "liar_tui/bundled/compose/.env.example",
                "liar_tui/bundled/nginx/nginx.conf"} <= names
        zf.extractall(tmp_path / "site")
    anywhere = tmp_path / "elsewhere"
    anywhere.mkdir()
    code = "from liar_tui.stack.project import discover; p = discover(None); print(p.root); print(p.compose_file.is_file())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=anywhere,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "site"), "XDG_DATA_HOME": str(tmp_path / "xdg"),
                              "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    root, ok = out.stdout.split()
    assert root == str(tmp_path / "xdg" / "liar-tui" / "project") and ok == "True"
    assert (Path(root) / "compose" / "docker-compose.yml").read_bytes() == (repo / "compose" / "docker-compose.yml").read_bytes()
