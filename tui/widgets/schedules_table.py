"""Periodic schedules: what each inserts, how often, when next and last, whether it is on, and
what an operator should know (nobody runs its kind, a skipped tick, a row no leader can keep)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from engine.admin import PeriodicInfo
from tui import formatting as fmt
from tui.data.pending import ENABLED, SCHEDULE
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable


class SchedulesTable(KeyedTable):
    COLUMNS = (
        ("id", "ID"),
        ("enabled", "Enabled"),
        ("schedule", "Schedule"),
        ("next", Text("Next run", justify="right")),
        ("last", Text("Last run", justify="right")),
        ("job", Text("Last job", justify="right")),
        ("skips", Text("Skips", justify="right")),
        ("kind", "Kind"),
        ("note", "Note"),
    )
    DROP_FIRST = ("kind", "skips", "last")
    FLEX = "note"

    WRITES = frozenset({"request:toggle", "request:run", "request:edit"})

    BINDINGS = [
        Binding(
            "e",
            "request('toggle')",
            "Enable/disable",
            tooltip="Enable or disable the selected schedule",
        ),
        Binding("space", "request('toggle')", "Enable/disable", show=False),
        Binding("n", "request('run')", "Run now", tooltip="Insert the schedule's job now"),
        Binding(
            "E",
            "request('edit')",
            "Edit",
            tooltip="Change the schedule live (every 5m, cron 0 2 * * *)",
        ),
        Binding("enter", "request('runs')", "Runs", tooltip="The schedule's last runs"),
    ]

    class ActionRequested(Message):
        """The operator asked for `action` (toggle, run, edit, runs) on schedule `schedule_id`."""

        def __init__(self, schedule_id: str, action: str = "toggle") -> None:
            super().__init__()
            self.schedule_id = schedule_id
            self.action = action

    def action_request(self, action: str) -> None:
        schedule_id = self.selected_key
        if schedule_id is None:
            self.notify("No schedule selected", severity="warning")
            return
        self.post_message(self.ActionRequested(schedule_id, action))

    def action_toggle_enabled(self) -> None:
        self.action_request("toggle")

    def show(
        self,
        schedules: list[PeriodicInfo],
        now: datetime,
        pending: Mapping[tuple[str, str], str],
        palette: Palette,
    ) -> None:
        self.sync({p.id: schedule_cells(p, now, pending, palette) for p in schedules})


def note_cell(p: PeriodicInfo, palette: Palette) -> Text:
    """The schedule's note: a warning when nobody can run it or no leader can keep it,
    muted for a skipped tick (its job is still live: that is the unique options at work)."""
    note = p.note
    if note is None:
        return Text(fmt.NONE, style=palette.muted)
    if p.last_error is not None or p.runners == 0:
        return Text(f"⚠ {note}", style="bold " + palette.warn)
    return Text(note, style=palette.muted)


def schedule_cells(
    p: PeriodicInfo, now: datetime, pending: Mapping[tuple[str, str], str], palette: Palette
) -> list[Cell]:
    change = pending.get((p.id, ENABLED))
    if change is not None:
        enabled = Text(change, style=palette.pending)
    elif p.enabled:
        enabled = Text("● on", style=palette.good)
    else:
        enabled = Text("○ off", style=palette.muted)
    # A disabled schedule keeps its old next run time, but nothing runs then.
    next_run = fmt.ahead((p.next_run_at - now).total_seconds()) if p.enabled else fmt.NONE
    last_age = (now - p.last_run_at).total_seconds() if p.last_run_at is not None else None
    schedule_change = pending.get((p.id, SCHEDULE))
    schedule = (
        Text(schedule_change, style=palette.pending)
        if schedule_change is not None
        else Text(p.schedule)
    )
    return [
        Text(p.id, style="bold" if p.enabled else palette.muted),
        enabled,
        schedule,
        Text(next_run, justify="right"),
        Text(fmt.age(last_age), justify="right"),
        Text(str(p.last_job_id) if p.last_job_id is not None else fmt.NONE, justify="right"),
        Text(f"{p.skips:,}", justify="right", style=palette.muted if not p.skips else ""),
        Text(p.kind),
        note_cell(p, palette),
    ]
