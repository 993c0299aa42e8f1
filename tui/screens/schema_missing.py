"""Shown instead of the dashboard while the database has no (or an older) pqw schema."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

MIGRATE_COMMAND = "pqw migrate up"


_RUN_MIGRATE = re.compile(r"[:;,]?\s*run `pqw migrate up`\.?$")


def schema_missing_text(database: str, reason: str) -> Text:
    # The engine's message ends by naming the command; it gets a line of its own here.
    why = _RUN_MIGRATE.sub("", reason.strip())
    return Text.assemble(
        (database, "bold"),
        " is not ready for pqw:\n",
        why,
        ".\n\nTo set it up, run\n\n    ",
        (MIGRATE_COMMAND, "bold"),
        "\n\nwith the same --dsn (or PQW_DATABASE_URL) as this dashboard.\n"
        "This screen checks again every few seconds and goes away by itself.",
    )


class SchemaMissingScreen(Screen[None]):
    BINDINGS = [Binding("q", "app.quit", "Quit")]

    def __init__(self, database: str, reason: str) -> None:
        super().__init__(id="schema-missing")
        self._database = database
        self._reason = reason

    def compose(self) -> ComposeResult:
        # Centred by a full-size box: the Screen's own align left the dialog at the top.
        with Container(id="schema-missing-box"), Vertical(id="schema-missing-dialog"):
            yield Static(schema_missing_text(self._database, self._reason), id="schema-missing")
        yield Footer()
