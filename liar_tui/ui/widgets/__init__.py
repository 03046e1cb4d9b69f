"""Textual UI of liar-tui."""
