"""Shown instead of the dashboard while the database has no (or an older) pqw schema."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

MIGRATE_COMMAND = "pqw migrate up"


def schema_missing_text(database: str, reason: str) -> Text:
    return Text.assemble(
        ("The database is not ready for pqw\n\n", "bold"),
        (database, "bold"),
        f": {reason}\n\nRun\n\n    ",
        (MIGRATE_COMMAND, "bold reverse"),
        "\n\nwith the same --dsn (or PQW_DATABASE_URL) as this dashboard. "
        "This screen checks again every few seconds and goes away by itself.",
    )


class SchemaMissingScreen(Screen[None]):
    BINDINGS = [Binding("q", "app.quit", "Quit")]

    def __init__(self, database: str, reason: str) -> None:
        super().__init__(id="schema-missing")
        self._database = database
        self._reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="schema-missing-dialog"):
            yield Static(schema_missing_text(self._database, self._reason), id="schema-missing")
        yield Footer()
