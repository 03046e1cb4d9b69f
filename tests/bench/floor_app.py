"""The floor: a bare Textual app (one line of text, one toggle), started the way the bench starts
the consoles. Its launch -> first frame is what Textual itself costs on this machine; liar-tui's
figure minus this is what liar-tui adds (imports, its widgets, the engine's state). Its key `t`
flips a word, and timed during the same log bursts (which it does not follow) it shows how fast
a key can take effect on this machine under that load at all."""

import os

os.environ.setdefault("TEXTUAL_FPS", "120")  # as liar-tui runs it

from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import Static  # noqa: E402

READY = "textual floor: first frame"


class FloorApp(App[None]):
    BINDINGS = [("t", "flip", "flip"), ("q", "quit", "quit")]
    flipped = False

    def compose(self) -> ComposeResult:
        yield Static(READY)
        yield Static("floor key: off", id="key")

    def action_flip(self) -> None:
        self.flipped = not self.flipped
        self.query_one("#key", Static).update(f"floor key: {'on' if self.flipped else 'off'}")


if __name__ == "__main__":
    FloorApp().run()
