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
