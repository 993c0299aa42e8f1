"""The strip shown while the database is away: what failed, the next retry, how old the data is."""

from __future__ import annotations

import math
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from tui.data.feed import ConnectionState, Reconnecting


def banner_text(state: ConnectionState, now: float, data_as_of: datetime | None) -> str | None:
    """What the banner says in `state` at local time `now`; None when it should hide."""
    if not isinstance(state, Reconnecting):
        return None
    wait = max(0, math.ceil(state.retry_at - now))
    retry = f"retrying in {wait}s" if wait else "retrying now"
    head = "Database unavailable" if state.connection_lost else "Refresh failed"
    kept = (
        f" Showing data as of {data_as_of.astimezone():%H:%M:%S}."
        if data_as_of is not None
        else " No data yet."
    )
    return f"⚠ {head}: {state.reason} — attempt {state.attempt}, {retry}.{kept}"


class Banner(Static):
    def show(self, state: ConnectionState, now: float, data_as_of: datetime | None) -> None:
        text = banner_text(state, now, data_as_of)
        self.display = text is not None
        if text is not None:
            self.update(Text(text))
