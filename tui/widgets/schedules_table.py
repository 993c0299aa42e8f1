"""Periodic schedules: what each inserts, how often, when next and last, and whether it is on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from engine.admin import PeriodicInfo
from tui import formatting as fmt
from tui.data.pending import ENABLED
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable


class SchedulesTable(KeyedTable):
    COLUMNS = (
        ("id", "ID"),
        ("enabled", "Enabled"),
        ("schedule", "Schedule"),
        ("next", "Next run"),
        ("last", "Last run"),
        ("kind", "Kind"),
        ("job", Text("Last job", justify="right")),
    )

    BINDINGS = [
        Binding(
            "e",
            "toggle_enabled",
            "Enable/disable",
            tooltip="Enable or disable the selected schedule",
        ),
        Binding("space", "toggle_enabled", "Enable/disable", show=False),
    ]

    class ActionRequested(Message):
        """The operator asked to enable or disable schedule `schedule_id`."""

        def __init__(self, schedule_id: str) -> None:
            super().__init__()
            self.schedule_id = schedule_id

    def action_toggle_enabled(self) -> None:
        schedule_id = self.selected_key
        if schedule_id is None:
            self.notify("No schedule selected", severity="warning")
            return
        self.post_message(self.ActionRequested(schedule_id))

    def show(
        self,
        schedules: list[PeriodicInfo],
        now: datetime,
        pending: Mapping[tuple[str, str], str],
        palette: Palette,
    ) -> None:
        self.sync(
            {p.id: schedule_cells(p, now, pending.get((p.id, ENABLED)), palette) for p in schedules}
        )


def schedule_cells(
    p: PeriodicInfo, now: datetime, change: str | None, palette: Palette
) -> list[Cell]:
    if change is not None:
        enabled = Text(change, style=palette.pending)
    elif p.enabled:
        enabled = Text("● on", style=palette.good)
    else:
        enabled = Text("○ off", style=palette.muted)
    # A disabled schedule keeps its old next run time, but nothing runs then.
    next_run = fmt.until((p.next_run_at - now).total_seconds()) if p.enabled else fmt.NONE
    last_age = (now - p.last_run_at).total_seconds() if p.last_run_at is not None else None
    return [
        Text(p.id, style="bold" if p.enabled else palette.muted),
        enabled,
        Text(p.schedule),
        Text(next_run),
        Text(fmt.ago(last_age)),
        Text(p.kind),
        Text(str(p.last_job_id) if p.last_job_id is not None else fmt.NONE, justify="right"),
    ]
