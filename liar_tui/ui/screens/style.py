"""The shared look of the modal screens."""

from __future__ import annotations

from typing import Any


def modal_css(name: str) -> str:
    """The shared modal look; DEFAULT_CSS is scoped to its class, so each modal gets its own copy."""
    return f"""
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 90%; max-width: 100; height: auto; max-height: 90%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} Label {{ width: 100%; }}
{name} Label.title {{ text-style: bold; content-align: center middle; }}
{name} Label.hint {{ color: $text-muted; }}
{name} Label.error {{ color: $error; }}
{name} Input {{ margin: 1 0 0 0; }}
"""


def fit_body(screen: Any, body: Any, *fixed: Any, share: float = 0.9) -> None:
    """Limit a modal's scrolling body to what the dialog (at most `share` of the screen, as
    modal_css says) leaves after its border and the `fixed` widgets (title, hint): TCSS cannot
    say 'the rest' inside an auto-height dialog, and a body taller than that is clipped, its last
    rows hidden under the border (paging then skips them) and the hint pushed off screen."""
    if not screen.is_mounted or not body.is_mounted:
        return
    room = max(3, int(screen.size.height * share) - 2 - sum(w.outer_size.height for w in fixed))
    if body.styles.max_height is None or body.styles.max_height.value != room:
        body.styles.max_height = room
