"""The shared look of the modal screens."""

from __future__ import annotations


def modal_css(name: str) -> str:
    """The shared modal look; DEFAULT_CSS is scoped to its class, so each modal gets its own copy."""
    return f"""
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 90%; max-width: 100; height: auto; max-height: 90%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} Label.title {{ text-style: bold; width: 100%; content-align: center middle; }}
{name} Label.hint {{ color: $text-muted; }}
{name} Label.error {{ color: $error; }}
{name} Input {{ margin: 1 0 0 0; }}
"""
