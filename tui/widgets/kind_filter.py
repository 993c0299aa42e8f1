"""The `/` prompt of the jobs screen: a search line (tui.data.search), enter applies it, escape
leaves it be."""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input


class KindFilter(Input):
    BINDINGS = [
        Binding("escape", "close", "Cancel", tooltip="Close the kind prompt, filter unchanged"),
    ]

    class Chosen(Message):
        """Search by the line `kind` (its name from when it took a kind only); None: no search."""

        def __init__(self, kind: str | None) -> None:
            super().__init__()
            self.kind = kind

    class Closed(Message):
        """The prompt closed without a change."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder="kind:email.* args.customer=7 meta.team=ops id:123 or text (empty: all)",
            id=id,
            compact=True,
        )

    def open(self, line: str, seen: Iterable[str]) -> None:
        """Show the prompt holding `line`; kinds `seen` on screen are offered as completions."""
        self.suggester = SuggestFromList(
            sorted(f"kind:{kind}" for kind in set(seen)), case_sensitive=True
        )
        self.value = line
        self.display = True
        self.focus()

    async def action_submit(self) -> None:
        self._close()
        await super().action_submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Chosen(event.value.strip() or None))

    def action_close(self) -> None:
        self._close()
        self.post_message(self.Closed())

    async def _escape(self) -> None:
        self.action_close()

    def _close(self) -> None:
        self.display = False
        if self.has_focus:
            self.screen.set_focus(None)  # now, not later: the next key goes to the screen

    async def _on_key(self, event: events.Key) -> None:
        # Enter and escape act here, in this prompt's own queue of keys: as bindings they
        # ran only after the key had gone up to the app and back, so a key typed right
        # after enter (T for a bulk retry) went into the search line first, unseen.
        if self.display and event.key in ("enter", "escape"):
            event.stop()
            event.prevent_default()
            await (self.action_submit() if event.key == "enter" else self._escape())
            return
        if not self.display:
            # Typed after enter or escape but queued here before the prompt closed:
            # handed back to the app, which gives it to the screen's keys.
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
            return
        await super()._on_key(event)
