"""The stack/ layer must stay free of Textual: it is shared by the CLI, tests and the UI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

STACK = Path(__file__).resolve().parents[2] / "liar_tui" / "stack"


def test_no_textual_import_in_stack_sources() -> None:
    offenders = []
    for path in STACK.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("textual", "liar_tui.ui")]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("..ui") or n == "ui"]
    assert offenders == []


def test_importing_the_stack_does_not_load_textual() -> None:
    code = (
        "import sys, pkgutil, importlib, liar_tui.stack as s\n"
        "for m in pkgutil.iter_modules(s.__path__): importlib.import_module('liar_tui.stack.' + m.name)\n"
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_pre_paint_loads_neither_textual_nor_rich() -> None:
    """ui/prepaint.py draws while Textual is being imported: importing it must not wait for that."""
    code = "import sys, liar_tui.ui.prepaint\nprint(sorted(m for m in ('textual', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
