"""Driving the dashboard in a Pilot: wait for what a person would wait to see."""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from tests.helpers import wait_for
from tui.app import PqwApp
from tui.widgets.keyed_table import KeyedTable


def app_of(pilot: Pilot[int]) -> PqwApp:
    app = pilot.app
    assert isinstance(app, PqwApp)
    return app


async def until(
    pilot: Pilot[int], check: Callable[[], object], message: str, timeout: float = 30.0
) -> None:
    """Let the app run until `check()` is truthy (a deadline, never a fixed sleep)."""

    async def ready() -> object:
        await pilot.pause()
        return check()

    try:
        await wait_for(ready, timeout=timeout, message=message)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {app_state(pilot)}") from None


def app_state(pilot: Pilot[int]) -> str:
    """What a timed-out wait should tell: whether the dashboard was reading, and what it met."""
    app = pilot.app
    if not isinstance(app, PqwApp):
        return f"app {type(app).__name__}"
    return (
        f"screen={type(app.screen).__name__} connection={app.feed.state!r} "
        f"overview={'yes' if app.overview is not None else 'none'} "
        f"internal errors={list(app.internal_errors)!r}"
    )


def cell(table: KeyedTable, row: str, column: str) -> str:
    """A cell's text, or "" while the row is not shown."""
    try:
        return table.cell_text(row, column)
    except Exception:
        return ""


async def select_row(pilot: Pilot[int], table: KeyedTable, row: str) -> None:
    """Focus the table and put its cursor on `row`, as arrow keys would."""
    await until(pilot, lambda: cell(table, row, table.COLUMNS[0][0]) != "", f"row {row}")
    table.focus()
    table.move_cursor(row=table.get_row_index(row), animate=False)
    await pilot.pause()
    assert table.selected_key == row


def notices(seen: list[Message]) -> list[str]:
    """The text of every notification the app posted (run_test(message_hook=seen.append))."""
    return [m.notification.message for m in seen if isinstance(m, Notify)]
