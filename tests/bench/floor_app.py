"""The launch floor: a bare Textual app (one line of text), started the way the bench starts the
consoles. Its launch -> first frame is what Textual itself costs on this machine; liar-tui's
figure minus this is what liar-tui adds (imports, its widgets, the engine's state)."""

from textual.app import App, ComposeResult
from textual.widgets import Static

READY = "textual floor: first frame"


class FloorApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Static(READY)


if __name__ == "__main__":
    FloorApp().run()
