"""One list of every key: the help screen and the command palette are built from the bindings.

Keys can be remapped by binding id (posting-style keymap): `[keys]` in config.toml,
LIAR_TUI_KEYS, or App.set_keymap. This module shows the effective keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class KeyRow:
    section: str
    keys: str
    description: str
    binding_id: str
    action: str


def _display(key: str) -> str:
    names = {
        "question_mark": "?",
        "slash": "/",
        "escape": "esc",
        "enter": "enter",
        "tab": "tab",
        "ampersand": "&",
        "plus": "+",
    }
    return names.get(key, key)


def effective_keys(binding: Binding, keymap: Mapping[str, str]) -> str:
    keys = keymap.get(binding.id or "", binding.key)
    return " ".join(_display(k.strip()) for k in keys.split(","))


def rows_from(section: str, bindings: Iterable[BindingType], keymap: Mapping[str, str]) -> list[KeyRow]:
    rows = []
    for b in Binding.make_bindings(bindings):
        if not b.id:
            continue
        rows.append(KeyRow(section, effective_keys(b, keymap), b.tooltip or b.description, b.id, b.action))
    # a binding listed under several keys (e.g. "up,k") is one row
    seen: dict[str, KeyRow] = {}
    for r in rows:
        if r.binding_id in seen:
            prev = seen[r.binding_id]
            if r.keys not in prev.keys.split(" "):
                seen[r.binding_id] = KeyRow(prev.section, f"{prev.keys} {r.keys}", prev.description, prev.binding_id, prev.action)
        else:
            seen[r.binding_id] = r
    return list(seen.values())


def binding_classes() -> list[type]:
    """Every screen, widget and dialog of the console that has key bindings."""
    from .app import LiarApp
    from .screens.activity import ActivityScreen
    from .screens.backups import BackupsScreen, JobScreen, RestoreConfirmScreen
    from .screens.health import HealthScreen
    from .screens.main import MainScreen
    from .screens.modals import ConfirmDownScreen, HelpScreen, LogRangeScreen, SaveLogScreen
    from .widgets.logview import LogView, SearchBar
    from .widgets.panes import ServicesPanel

    return [MainScreen, ServicesPanel, LogView, SearchBar, LiarApp, HealthScreen, ActivityScreen, BackupsScreen,
            JobScreen, RestoreConfirmScreen, ConfirmDownScreen, SaveLogScreen, LogRangeScreen, HelpScreen]


def known_binding_ids() -> set[str]:
    """The ids keys can be remapped by (`[keys]`, LIAR_TUI_KEYS, --keys)."""
    ids: set[str] = set()
    for cls in binding_classes():
        for bindings in cls._merge_bindings().key_to_bindings.values():  # type: ignore[attr-defined]
            ids.update(b.id for b in bindings if b.id)
    return ids
