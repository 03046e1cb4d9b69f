"""An Input whose editing keys keep their place among the characters typed around them.

Textual's Input inserts printable characters in its own key handler, but its bound keys
(backspace, ctrl+u, ctrl+k, arrows...) go up to the app first and run only when the event has
bubbled back (Textual issue #6605). When a terminal read brings several keys at once (typing
fast, over SSH, a paste of keystrokes), characters after such a key were inserted before it ran:
`ctrl+u` then `10m` in one read left the field empty (QA, the How-far-back dialog). Here the
Input's own bindings run inline, in order; priority bindings are unchanged (the app checks them
before the key reaches the Input).
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class OrderedInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    return
        await super()._on_key(event)


__all__ = ["OrderedInput"]
