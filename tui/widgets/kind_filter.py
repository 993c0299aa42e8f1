"""The `/` prompt of the jobs screen: a search line (tui.data.search), enter applies it, escape
leaves it be."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input

from tui.widgets.prompt_line import PromptLine


class KindFilter(PromptLine):
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

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Chosen(event.value.strip() or None))

    def action_close(self) -> None:
        self.close_now()
        self.post_message(self.Closed())
