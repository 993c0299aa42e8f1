"""The `/` prompt of the jobs screen: type a job kind, enter filters by it, escape leaves it be."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input


class KindFilter(Input):
    BINDINGS = [
        Binding("escape", "close", "Cancel", tooltip="Close the kind prompt, filter unchanged"),
    ]

    class Chosen(Message):
        """Filter by `kind`; None shows every kind."""

        def __init__(self, kind: str | None) -> None:
            super().__init__()
            self.kind = kind

    class Closed(Message):
        """The prompt closed without a change."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder="job kind, exactly (→ completes; empty: every kind)", id=id, compact=True
        )

    def open(self, kind: str | None, seen: Iterable[str]) -> None:
        """Show the prompt holding `kind`; kinds `seen` on screen are offered as completions."""
        self.suggester = SuggestFromList(sorted(set(seen)), case_sensitive=True)
        self.value = kind or ""
        self.display = True
        self.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.display = False
        self.post_message(self.Chosen(event.value.strip() or None))

    def action_close(self) -> None:
        self.display = False
        self.post_message(self.Closed())
