"""A one-line prompt (Input) that closes the moment enter or escape is pressed.

As bindings, enter and escape acted only after the key had gone up to the app and
back; a key typed right after enter (T for a bulk retry, f to follow) was queued to
the prompt meanwhile and went into it, hidden and unseen. Here they act in the
prompt's own queue of keys, the prompt hides and lets go of the focus at once, and a
key still queued to it is handed back to the app for the screen's keys.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class PromptLine(Input):
    def action_close(self) -> None:
        """Escape: close without a change (subclasses say so with a message)."""
        self.close_now()

    async def action_submit(self) -> None:
        self.close_now()
        await super().action_submit()

    def close_now(self) -> None:
        self.display = False
        if self.has_focus:
            self.screen.set_focus(None)  # now, not later: the next key goes to the screen

    async def _on_key(self, event: events.Key) -> None:
        if self.display and event.key in ("enter", "escape"):
            event.stop()
            event.prevent_default()
            if event.key == "enter":
                await self.action_submit()
            else:
                self.action_close()
            return
        if not self.display:
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
            return
        await super()._on_key(event)
