"""Settings precedence: command line > LIAR_TUI_* > config file > defaults (pure: no real home)."""

from __future__ import annotations

from pathlib import Path

import pytest

from liar_tui.cli import build_parser
from liar_tui.config import ConfigError, Settings, config_path, load_settings, parse_keys_env

FILE = """
refresh = 2.5
log_lines = 5000
theme = "nord"
mouse = false

[keys]
"service.restart" = "ctrl+r"
"stack.down" = "X"
"""


def write(tmp_path: Path, text: str = FILE) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    s = load_settings({}, {}, tmp_path / "missing.toml")
    assert s == Settings()
    assert s.refresh == 1.0 and s.log_lines == 5_000 and s.up and s.mouse and s.keys == {}
    assert set(s.sources.values()) == {"default"}


def test_keys_written_as_toml_dotted_keys_are_binding_ids(tmp_path: Path) -> None:
    """QA: `service.restart = "ctrl+r"` without quotes (a TOML dotted key, so a nested table) was
    refused with "[keys] must map binding ids to key strings"; it means the same id as quoted."""
    s = load_settings({}, {}, write(tmp_path, '[keys]\nservice.restart = "ctrl+r"\n"stack.down" = "X"\nlogs.search = "ctrl+f"\n'))
    assert s.keys == {"service.restart": "ctrl+r", "stack.down": "X", "logs.search": "ctrl+f"}


def test_file_over_defaults(tmp_path: Path) -> None:
    s = load_settings({}, {}, write(tmp_path))
    assert (s.refresh, s.log_lines, s.theme, s.mouse) == (2.5, 5000, "nord", False)
    assert s.keys == {"service.restart": "ctrl+r", "stack.down": "X"}
    assert s.sources["refresh"] == "file" and s.sources["log_tail"] == "default"


def test_env_over_file(tmp_path: Path) -> None:
    env = {"LIAR_TUI_REFRESH": "0.5", "LIAR_TUI_MOUSE": "yes", "LIAR_TUI_KEYS": "service.restart=F5;app.quit=ctrl+x"}
    s = load_settings({}, env, write(tmp_path))
    assert s.refresh == 0.5 and s.mouse is True
    assert s.log_lines == 5000  # still from the file
    assert s.keys == {"service.restart": "f5", "stack.down": "X", "app.quit": "ctrl+x"}  # F5 is Textual's f5
    assert s.sources["refresh"] == "env"


def test_cli_over_env(tmp_path: Path) -> None:
    env = {"LIAR_TUI_REFRESH": "0.5", "LIAR_TUI_LOG_LINES": "300", "LIAR_TUI_UP": "1"}
    s = load_settings({"refresh": 3.0, "up": False, "theme": None, "keys": {"stack.up": "U"}}, env, write(tmp_path))
    assert s.refresh == 3.0 and s.up is False
    assert s.log_lines == 300 and s.theme == "nord"  # None means "not given on the command line"
    assert s.keys["stack.up"] == "U" and s.sources["refresh"] == "cli"


def test_flags_reach_the_settings() -> None:
    args = build_parser().parse_args(["--no-up", "--no-mouse", "--refresh", "2", "--log-lines", "777", "--theme", "gruvbox"])
    cli = {n: getattr(args, n) for n in ("up", "mouse", "refresh", "log_lines", "theme")}
    s = load_settings(cli, {}, Path("/nonexistent/config.toml"))
    assert (s.up, s.mouse, s.refresh, s.log_lines, s.theme) == (False, False, 2.0, 777, "gruvbox")
    plain = build_parser().parse_args([])
    assert load_settings({n: getattr(plain, n) for n in ("up", "mouse")}, {}, Path("/nonexistent")).up is True


def test_xdg_config_home_and_override() -> None:
    assert config_path({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/u"}) == Path("/x/cfg/liar-tui/config.toml")
    assert config_path({"HOME": "/home/u"}) == Path("/home/u/.config/liar-tui/config.toml")
    assert config_path({"LIAR_TUI_CONFIG": "/etc/liar.toml", "XDG_CONFIG_HOME": "/x"}) == Path("/etc/liar.toml")


@pytest.mark.parametrize(
    "cli,env,text,needle",
    [
        ({"refresh": 0.0}, {}, "", "refresh (command line): 0.0 is below the minimum"),
        ({}, {"LIAR_TUI_LOG_LINES": "lots"}, "", "log_lines (LIAR_TUI_LOG_LINES): 'lots' is not a whole number"),
        ({}, {"LIAR_TUI_MOUSE": "maybe"}, "", "mouse (LIAR_TUI_MOUSE): 'maybe' is not true or false"),
        ({}, {}, "refresh = [", "config file"),
        ({}, {}, "colour = 'red'\n", "unknown setting(s) colour"),
        ({}, {}, "[keys]\nx = 1\n", "[keys] x = 1: give the key as a string"),
        ({}, {}, "keys = 3\n", "[keys] must map binding ids to key strings"),
    ],
)
def test_bad_values_name_the_setting_and_source(tmp_path: Path, cli: dict, env: dict, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(cli, env, write(tmp_path, text))
    assert needle in str(info.value)


def test_keys_flag_merges_over_env_and_unknown_ids_are_refused(tmp_path: Path) -> None:
    from liar_tui.config import check_key_ids
    from liar_tui.ui.keys import known_binding_ids

    args = build_parser().parse_args(["--keys", "service.restart=F2;logs.search=ctrl+f", "--log-tail", "50"])
    s = load_settings({"keys": args.keys, "log_tail": args.log_tail}, {"LIAR_TUI_KEYS": "service.restart=x"}, write(tmp_path))
    assert s.keys == {"service.restart": "f2", "stack.down": "X", "logs.search": "ctrl+f"} and s.log_tail == 50
    known = known_binding_ids()
    assert {"service.restart", "logs.page-up", "down.volumes", "health.fix-drift"} <= known
    check_key_ids(s.keys, known)
    with pytest.raises(ConfigError) as info:
        check_key_ids({"service.restrat": "x"}, known)
    assert "'service.restrat'" in str(info.value)
    with pytest.raises(ConfigError):
        load_settings({"keys": "no-equals"}, {}, Path("/nonexistent"))


def test_unknown_key_id_is_one_line_before_the_console_opens(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(Path(__file__).resolve().parents[2]), "--no-up",
         "--keys", "service.restrat=ctrl+r"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "LIAR_TUI_CONFIG": "/nonexistent"},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "no binding with id 'service.restrat'" in done.stderr, done.stderr


def test_keys_env_syntax() -> None:
    assert parse_keys_env(" a.b = x ; c.d=ctrl+y,f5 ;") == {"a.b": "x", "c.d": "ctrl+y,f5"}
    with pytest.raises(ConfigError):
        parse_keys_env("no-equals-sign")


@pytest.mark.parametrize("keymap,needles", [
    ({"service.restart": "s"}, ["s is both", "service.restart", "service.toggle", "the main view"]),
    ({"service.restart": "f9", "service.recreate": "f9"}, ["f9 is both", "service.restart", "service.recreate"]),
    ({"logs.up": "x"}, ["x is both", "logs.up", "in the log"]),
    ({"service.restart": "ctrl-r"}, ["'ctrl-r' (for service.restart) is not a key name", "ctrl+r"]),
    ({"service.restart": ""}, ["'' (for service.restart) is not a key name"]),
])
def test_a_remap_onto_a_taken_key_or_a_non_key_is_refused(keymap: dict, needles: list[str]) -> None:
    """Accepted, these left an action with no key at all (QA: s restarted, stop/start was gone)."""
    from liar_tui.ui.keys import check_keymap

    problem = check_keymap(keymap)
    for needle in needles:
        assert needle in problem, problem


def test_free_keys_and_key_names_pass() -> None:
    from liar_tui.ui.keys import check_keymap, is_key_name

    assert check_keymap({"service.restart": "ctrl+r", "stack.down": "X", "logs.search": "ctrl+f", "service.shell": "f9,e"}) == ""
    assert check_keymap({"service.restart": "r"}) == ""  # its own key
    for key in ("r", "R", "?", "f9", "ctrl+r", "shift+tab", "pageup", "question_mark", "slash", "plus", "comma", "escape"):
        assert is_key_name(key), key
    for key in ("ctrl-r", "F 9", "", "control+r", "nosuchkey", " "):
        assert not is_key_name(key), key


@pytest.mark.parametrize("cli,env,raw,needle", [
    ({"refresh": "nan"}, {}, b"", "refresh (command line): 'nan' is not a number"),
    ({}, {"LIAR_TUI_REFRESH": "inf"}, b"", "is not a number"),
    ({}, {}, b"refresh = nan\n", "is not a number"),
    ({}, {}, b"\xff\xfe garbage\n", "not UTF-8 text"),
])
def test_nan_and_a_non_utf8_file_are_one_line(tmp_path: Path, cli: dict, env: dict, raw: bytes, needle: str) -> None:
    """`--refresh nan` passed the range check and hung the console for good; a non-UTF-8 file was a traceback."""
    path = tmp_path / "config.toml"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as info:
        load_settings(cli, env, path)
    assert needle in str(info.value)
