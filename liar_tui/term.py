"""The terminal the headless commands print to."""

from __future__ import annotations

import shutil
import sys


def terminal_width() -> int | None:
    """The terminal's width when stdout is one; None for a pipe or a file (it gets every column,
    unwrapped, for scripts)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def table_lines(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


__all__ = ["table_lines", "terminal_width"]
