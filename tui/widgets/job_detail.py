"""Everything about one job: state, times, args and metadata as JSON, each error with its trace."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.admin import Job
from tui import formatting as fmt
from tui.palette import Palette
from tui.widgets.jobs_table import job_when, state_style


def _heading(title: str) -> Text:
    return Text("\n" + title, style="bold underline")


def _moment(at: datetime | None, now: datetime) -> Text:
    """ "09:26:41 UTC  12 seconds ago", or "in 21 seconds" for a time ahead."""
    if at is None:
        return Text(fmt.NONE, style="dim")
    seconds = (now - at).total_seconds()
    relative = fmt.ago(seconds) if seconds >= 0 else fmt.until(-seconds)
    return Text.assemble(f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC  ", (relative, "dim"))


def _error_time(value: Any, now: datetime) -> str:
    """An error entry's `at` (ISO text in the job row) in words; as stored when unreadable."""
    try:
        at = datetime.fromisoformat(str(value))
        return fmt.ago((now - at).total_seconds())
    except (TypeError, ValueError):
        return str(value)


def _json(value: Any) -> RenderableType:
    if value in ({}, [], None):
        return Text(fmt.NONE, style="dim")
    return JSON(json.dumps(value, default=str, ensure_ascii=False), indent=2, sort_keys=True)


def job_detail(job: Job, now: datetime, change: str | None, palette: Palette) -> Group:
    state = (
        Text(change, style=palette.pending)
        if change is not None
        else Text(f"● {job.state}", style=state_style(job.state, palette))
    )
    header = Text.assemble(
        (f"Job {job.id}", "bold"),
        "  ",
        (job.kind, "bold"),
        "  ",
        state,
        "  ",
        (job_when(job, now), "dim"),
    )
    about = Text.assemble(
        "queue ",
        (job.queue, "bold"),
        f" · priority {job.priority} · attempt {job.attempt} of {job.max_attempts}",
        f" · tags {', '.join(job.tags)}" if job.tags else "",
    )
    times = Table.grid(padding=(0, 2))
    times.add_column(style="bold", no_wrap=True)
    times.add_column()
    times.add_row("created", _moment(job.created_at, now))
    times.add_row("scheduled", _moment(job.scheduled_at, now))
    times.add_row("attempted", _moment(job.attempted_at, now))
    times.add_row("finalized", _moment(job.finalized_at, now))
    if job.heartbeat_at is not None:
        times.add_row("heartbeat", _moment(job.heartbeat_at, now))
    times.add_row("attempted by", Text(", ".join(job.attempted_by) or fmt.NONE))
    parts: list[RenderableType] = [
        header,
        about,
        _heading("Times"),
        times,
        _heading("Args"),
        _json(job.args),
        _heading("Metadata"),
        _json(job.metadata),
        _heading(f"Errors ({len(job.errors)})" + (", newest first" if len(job.errors) > 1 else "")),
    ]
    if not job.errors:
        parts.append(Text("none", style="dim"))
    for entry in reversed(job.errors):
        parts.append(
            Text.assemble(
                (f"Attempt {entry.get('attempt', '?')}", "bold"),
                " · ",
                (_error_time(entry.get("at"), now), "dim"),
            )
        )
        parts.append(Text(str(entry.get("error", "")), style=palette.bad))
        trace = entry.get("trace")
        if trace:
            parts.append(Padding(Text(str(trace).rstrip(), style="dim"), (0, 0, 0, 2)))
        parts.append(Text(""))
    return Group(*parts)


class JobDetail(Static):
    def show(self, job: Job, now: datetime, change: str | None, palette: Palette) -> None:
        self.update(job_detail(job, now, change, palette))
