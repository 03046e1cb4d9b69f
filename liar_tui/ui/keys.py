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
        "colon": ":",
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
    from .screens.backups import BackupsScreen, JobScreen, QuitDuringJobScreen, RestoreConfirmScreen, SetsTable
    from .screens.health import HealthScreen
    from .screens.main import MainScreen
    from .screens.modals import ConfirmDownScreen, HelpScreen, LogRangeScreen, SaveLogScreen
    from .widgets.logview import LogView, SearchBar
    from .widgets.panes import ServicesPanel

    return [MainScreen, ServicesPanel, LogView, SearchBar, LiarApp, HealthScreen, ActivityScreen, BackupsScreen, SetsTable,
            JobScreen, RestoreConfirmScreen, QuitDuringJobScreen, ConfirmDownScreen, SaveLogScreen, LogRangeScreen, HelpScreen]


def known_binding_ids() -> set[str]:
    """The ids keys can be remapped by (`[keys]`, LIAR_TUI_KEYS, --keys)."""
    ids: set[str] = set()
    for cls in binding_classes():
        for bindings in cls._merge_bindings().key_to_bindings.values():  # type: ignore[attr-defined]
            ids.update(b.id for b in bindings if b.id)
    return ids


#: Bindings that are active at the same time (the app's, the screen's and the focused widget's):
#: a remapped key must not be taken by another binding in any group its binding is in.
def binding_groups() -> list[tuple[str, list[type]]]:
    from .app import LiarApp
    from .screens.activity import ActivityScreen
    from .screens.backups import BackupsScreen, JobScreen, QuitDuringJobScreen, RestoreConfirmScreen, SetsTable
    from .screens.health import HealthScreen
    from .screens.main import MainScreen
    from .screens.modals import ConfirmDownScreen, HelpScreen, LogRangeScreen, SaveLogScreen
    from .widgets.logview import LogView
    from .widgets.panes import ServicesPanel

    dialogs: tuple[type, ...] = (JobScreen, RestoreConfirmScreen, QuitDuringJobScreen, ConfirmDownScreen, SaveLogScreen,
                                 LogRangeScreen, HelpScreen)
    return [
        ("the main view", [LiarApp, MainScreen, ServicesPanel]),
        ("the log", [LiarApp, MainScreen, LogView]),
        ("the health view", [LiarApp, HealthScreen]),
        ("the activity view", [LiarApp, ActivityScreen]),
        ("the backups view", [LiarApp, BackupsScreen, SetsTable]),
        *((f"the {cls.__name__} dialog", [LiarApp, cls]) for cls in dialogs),
    ]


_MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}


def is_key_name(key: str) -> bool:
    """A key Textual can bind: 'r', 'R', 'f9', 'ctrl+r', 'pageup', 'question_mark', '?'..."""
    from textual.keys import KEY_ALIASES, KEY_NAME_REPLACEMENTS, Keys, key_to_character

    *mods, base = key.split("+")
    if not base or any(m not in _MODIFIERS for m in mods):
        return False
    if len(base) == 1:
        return base.isprintable() and not base.isspace()
    return (base in {k.value for k in Keys} or base in KEY_ALIASES or base in KEY_NAME_REPLACEMENTS.values()
            or key_to_character(base) is not None)


def check_keymap(keymap: Mapping[str, str]) -> str:
    """'' when the remapped keys are usable; else one line naming the problem and the fix: a key
    name Textual does not know (a typo would leave the action with no key), or a key another
    binding active at the same time already has (one of the two would never run)."""
    for binding_id, value in keymap.items():
        for key in value.split(","):
            if not is_key_name(key.strip()):
                return (f"keys: {key.strip()!r} (for {binding_id}) is not a key name: use e.g. r, R, ctrl+r, f9, "
                        f"pageup (several keys: comma-separated)")
    for where, classes in binding_groups():
        owner: dict[str, str] = {}
        bindings = [b for cls in classes
                    for bs in cls._merge_bindings().key_to_bindings.values() for b in bs]  # type: ignore[attr-defined]
        by_id: dict[str, list[str]] = {}
        for b in bindings:
            ident = b.id or f"{b.action} ({b.key})"
            keys = keymap.get(b.id, b.key) if b.id else b.key
            by_id.setdefault(ident, [])
            for key in keys.split(","):
                if key.strip() not in by_id[ident]:
                    by_id[ident].append(key.strip())
        remapped = {b.id for b in bindings if b.id and b.id in keymap}
        for ident, keys in by_id.items():
            for key in keys:
                other = owner.setdefault(key, ident)
                if other != ident and (ident in remapped or other in remapped):
                    return (f"keys: {_display(key)} is both {other} and {ident} in {where}: remap one of them to a "
                            f"free key (`?` lists every key)")
    return ""
