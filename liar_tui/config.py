"""Console settings: command line > LIAR_TUI_* variables > config file > defaults.

The config file is TOML at $XDG_CONFIG_HOME/liar-tui/config.toml (~/.config/liar-tui/config.toml):

    refresh = 1.0            # seconds between pane/header repaints (state changes render at once)
    log_lines = 5000         # lines kept in the log ring buffer (as k9s keeps by default)
    log_tail = 200           # lines of backlog fetched when a log view opens
    theme = "textual-dark"
    mouse = true
    up = true                # bring the stack up on launch
    autoheal = false         # restart services that stay unhealthy (toggle in the console: ctrl+a)

    [keys]                   # binding id = key(s), comma separated (see `?` in the console)
    "service.restart" = "ctrl+r"

Flags: --no-up, --no-mouse, --refresh, --log-lines, --log-tail, --theme, --autoheal, --keys "id=key;...".
Environment: LIAR_TUI_REFRESH, LIAR_TUI_LOG_LINES, LIAR_TUI_LOG_TAIL, LIAR_TUI_THEME,
LIAR_TUI_MOUSE (0/1), LIAR_TUI_UP (0/1), LIAR_TUI_AUTOHEAL (0/1), LIAR_TUI_KEYS ("service.restart=ctrl+r;stack.down=X"),
LIAR_TUI_CONFIG (another config file).

Everything here is pure: `load_settings` takes the flags, the environment and a path, so it is
unit-tested without touching the real home folder.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .stack.errors import StackError

ENV_PREFIX = "LIAR_TUI_"


class ConfigError(StackError):
    """A setting has a value liar-tui cannot use; the message names the setting and its source."""


@dataclass(frozen=True)
class Settings:
    """What the console needs to know before it starts."""

    refresh: float = 1.0
    log_lines: int = 5_000
    log_tail: int = 200
    theme: str = "textual-dark"
    mouse: bool = True
    up: bool = True
    autoheal: bool = False  # opt-in: the console starts with autoheal off unless this is set
    keys: dict[str, str] = field(default_factory=dict)
    #: where each value came from (cli / env / file / default), for `--help`-style diagnostics
    sources: dict[str, str] = field(default_factory=dict, compare=False)


#: name -> (type, min, max) for the scalar settings
_SCALARS: dict[str, tuple[type, float | None, float | None]] = {
    "refresh": (float, 0.1, 60.0),
    "log_lines": (int, 100, 2_000_000),
    "log_tail": (int, 0, 1_000_000),
    "theme": (str, None, None),
    "mouse": (bool, None, None),
    "up": (bool, None, None),
    "autoheal": (bool, None, None),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config file liar-tui reads: LIAR_TUI_CONFIG, else $XDG_CONFIG_HOME/liar-tui/config.toml."""
    env = os.environ if environ is None else environ
    if env.get(ENV_PREFIX + "CONFIG"):
        return Path(env[ENV_PREFIX + "CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base).expanduser() / "liar-tui" / "config.toml"


def _coerce(name: str, value: Any, source: str) -> Any:
    kind, low, high = _SCALARS[name]
    where = f"{name} ({source})"
    try:
        if kind is bool:
            if isinstance(value, bool):
                result: Any = value
            elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                result = value.strip().lower() in _TRUE
            else:
                raise ValueError
        elif kind is int:
            if isinstance(value, bool):
                raise ValueError
            result = int(str(value).strip().replace("_", ""))
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError
            result = float(str(value).strip())
            if not math.isfinite(result):  # nan passes every comparison: `--refresh nan` hung the console
                raise ValueError
        else:
            result = str(value).strip()
            if not result:
                raise ValueError
    except (TypeError, ValueError):
        expected = {bool: "true or false", int: "a whole number", float: "a number", str: "a name"}[kind]
        raise ConfigError(f"{where}: {value!r} is not {expected}") from None
    if low is not None and result < low:
        raise ConfigError(f"{where}: {result} is below the minimum {low:g}")
    if high is not None and result > high:
        raise ConfigError(f"{where}: {result} is above the maximum {high:g}")
    return result


def parse_keys_env(text: str, source: str = f"{ENV_PREFIX}KEYS") -> dict[str, str]:
    """'service.restart=ctrl+r;stack.down=X' -> {'service.restart': 'ctrl+r', 'stack.down': 'X'}."""
    keys: dict[str, str] = {}
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        binding_id, sep, key = item.partition("=")
        if not sep or not binding_id.strip() or not key.strip():
            raise ConfigError(f"keys ({source}): {item!r} is not id=key")
        keys[binding_id.strip()] = key.strip()
    return keys


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not UTF-8 text (TOML files are UTF-8): fix or remove it") from None
    unknown = sorted(set(data) - set(_SCALARS) - {"keys"})
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join([*_SCALARS, 'keys'])}")
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        raise ConfigError(f"config file {path}: [keys] must map binding ids to key strings")
    flat: dict[str, str] = {}

    def gather(table: dict[str, Any], prefix: str) -> None:
        # QA: `service.restart = "ctrl+r"` unquoted is a TOML dotted key, i.e. {"service":
        # {"restart": ...}}, and was refused: the binding id is the dotted path either way
        for name, value in table.items():
            if isinstance(value, dict):
                gather(value, f"{prefix}{name}.")
            elif isinstance(value, str):
                flat[f"{prefix}{name}"] = value
            else:
                raise ConfigError(f"config file {path}: [keys] {prefix}{name} = {value!r}: give the key as a string "
                                  f'("{prefix}{name}" = "ctrl+r")')

    gather(keys, "")
    if "keys" in data:
        data["keys"] = flat
    return data


def load_settings(
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Merge the sources. `cli` holds only options given on the command line (None = not given)."""
    env = os.environ if environ is None else environ
    file_path = path if path is not None else config_path(env)
    file_data = _read_file(file_path)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    defaults = Settings()
    for name in _SCALARS:
        cli_value = (cli or {}).get(name)
        env_value = env.get(ENV_PREFIX + name.upper())
        if cli_value is not None:
            values[name], sources[name] = _coerce(name, cli_value, "command line"), "cli"
        elif env_value is not None:
            values[name], sources[name] = _coerce(name, env_value, f"{ENV_PREFIX}{name.upper()}"), "env"
        elif name in file_data:
            values[name], sources[name] = _coerce(name, file_data[name], str(file_path)), "file"
        else:
            values[name], sources[name] = getattr(defaults, name), "default"
    # Keys merge per binding id, with the same precedence.
    keys: dict[str, str] = dict(file_data.get("keys", {}))
    if env.get(ENV_PREFIX + "KEYS"):
        keys.update(parse_keys_env(env[ENV_PREFIX + "KEYS"]))
    cli_keys = (cli or {}).get("keys") or {}
    if isinstance(cli_keys, str):  # --keys "id=key;id=key"
        cli_keys = parse_keys_env(cli_keys, "--keys")
    keys.update(dict(cli_keys))
    keys = {binding_id: _normalise_keys(value) for binding_id, value in keys.items()}
    sources["keys"] = "merged" if keys else "default"
    return replace(defaults, **values, keys=keys, sources=sources)


def _normalise_keys(value: str) -> str:
    """'F5' -> 'f5' (Textual names function keys in lower case; 'R' stays shift+r)."""
    return ",".join(k.strip().lower() if re.fullmatch(r"F\d{1,2}", k.strip()) else k.strip() for k in value.split(","))


def check_key_ids(keys: Mapping[str, str], known: set[str]) -> None:
    """Every remapped binding id must exist: a typo would otherwise change nothing, silently."""
    unknown = sorted(set(keys) - known)
    if unknown:
        raise ConfigError(
            f"keys: no binding with id {', '.join(repr(u) for u in unknown)} (from --keys, {ENV_PREFIX}KEYS or "
            f"[keys] in config.toml); `?` in the console lists the ids, e.g. service.restart"
        )
