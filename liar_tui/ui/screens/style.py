"""The shared look of the modal screens."""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical


def modal_css(name: str, dialog: bool = False) -> str:
    """The shared modal look; DEFAULT_CSS is scoped to its class, so each modal gets its own copy.
    `dialog`: a box in a Dialog, kept clear of toasts (they start hidden; keep_toasts_clear shows
    those that fit under it)."""
    hidden = f"{name} ToastHolder {{ display: none; }}" if dialog else ""
    return hidden + f"""
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


class Dialog(Vertical):
    """A dialog's box (styled by modal_css as `{name} > Vertical`). Toasts stay in the rows under
    it (keep_toasts_clear): at 80x24 they covered a dialog's text for seconds (QA: the down
    dialog's, a backup's result line)."""

    def on_mount(self) -> None:
        # toasts come and go (each on its own timer): look again twice a second
        self.set_interval(0.5, self._fit_toasts)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_toasts)

    def _fit_toasts(self) -> None:
        keep_toasts_clear(self.screen)


class SaysWhyKeyIsOff:
    """A screen whose key is dimmed in the footer (its action does not apply now) says why when
    it is pressed, instead of doing nothing: `disabled_reason(action)` gives the line,
    `say_disabled(key, reason)` shows it."""

    def on_key(self, event: Any) -> None:
        active = self.active_bindings.get(event.key)  # type: ignore[attr-defined]
        if active is None or active.enabled or active.node is not self:
            return
        reason = self.disabled_reason(active.binding.action)
        if reason:
            event.stop()
            self.say_disabled(active.binding.key, reason)

    def disabled_reason(self, action: str) -> str:
        return ""

    def say_disabled(self, key: str, reason: str) -> None:
        self.notify(reason, severity="warning", timeout=5)  # type: ignore[attr-defined]


class ToastsClearOfDialog:
    """Mixin for a dialog screen: when the terminal resizes, the box moves without resizing."""

    def on_resize(self) -> None:
        self.call_after_refresh(keep_toasts_clear, self)  # type: ignore[attr-defined]


def keep_toasts_clear(screen: Any) -> None:
    """Show the newest whole toasts that fit in the rows under the screen's dialog box (the rack
    is docked at the bottom, newest last); the others wait hidden: once the dialog closes, the
    main screen shows every notification not yet expired."""
    if not screen.is_attached:
        return
    racks = screen.query_children("#textual-toastrack")
    boxes = screen.query_children(Dialog)
    if not racks or not boxes:
        return
    rack, box = racks.first(), boxes.first()
    room = screen.size.height - box.region.bottom - 1  # the rack keeps one row free at the bottom
    height = 0
    fits = True
    for holder in reversed(list(rack.children)):
        rows = _toast_rows(holder, screen)
        fits = fits and height + rows <= room
        if fits:
            height += rows
        if holder.display != fits:
            holder.display = fits


def _toast_rows(holder: Any, screen: Any) -> int:
    """The rows a toast takes, worked out from its text (a rack limited to 0 rows lays none out)."""
    try:
        toast = holder.children[0]
        styles = toast.styles
        width = min(int(styles.width.value) if styles.width else 60, screen.size.width // 2)  # Toast: width 60, max 50%
        inner = max(1, width - styles.gutter.width)
        lines = toast.get_content_height(screen.size, screen.size, inner)
        return lines + styles.gutter.height + styles.margin.top
    except Exception:  # noqa: BLE001 - Textual's toast internals: fall back on its laid-out size
        return holder.outer_size.height
