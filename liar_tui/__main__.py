"""Entry point: `liar-tui` (console script) and `python -m liar_tui`."""

from __future__ import annotations

from .cli import exit_with, main

if __name__ == "__main__":
    exit_with(main())
