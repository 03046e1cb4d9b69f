"""liar-tui: a terminal operations console for the liar-game Docker Compose stack."""

__version__ = "0.1.0"
