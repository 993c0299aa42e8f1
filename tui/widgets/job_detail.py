"""Everything about one job: state, times, args and metadata as JSON, each error with its trace."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import humanize
from rich.console import Group, RenderableType
from rich.highlighter import JSONHighlighter
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


# The most of one JSON value (args, metadata) the view draws, pretty-printed; the
# rest is measured, not drawn: a job of a megabyte opens as fast as a small one.
JSON_CHARS = 20_000
JSON_LINES = 200
LINE_CHARS = 400  # of one line: a long string is one line of JSON
ERRORS_SHOWN = 10  # the newest error entries
MESSAGE_CHARS = 2_000
TRACE_LINES = 60  # the last lines of a trace (where the exception is)
TAGS_SHOWN = 20
RUNNERS_SHOWN = 5


def _cut_line(line: str) -> str:
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…"


def _json(value: Any) -> RenderableType:
    if value in ({}, [], None):
        return Text(fmt.NONE, style="dim")
    text, complete = fmt.json_head(value, JSON_CHARS, indent=2, sort_keys=True)
    lines = text.splitlines()
    cut = not complete or len(lines) > JSON_LINES or any(len(x) > LINE_CHARS for x in lines)
    shown = "\n".join(_cut_line(x) for x in lines[:JSON_LINES])
    # As rich's JSON renders it (same text, same colours), without parsing it again.
    body = JSONHighlighter()(shown)
    body.no_wrap, body.overflow = True, None
    if not cut:
        return body
    size = len(json.dumps(value, default=str, ensure_ascii=False).encode())
    note = Text(
        f"… cut here: {humanize.naturalsize(size, binary=True)} of JSON in all, "
        "too much to show (Admin.get_job returns it whole)",
        style="dim italic",
    )
    return Group(body, note)


def job_detail(job: Job, now: datetime, change: str | None, palette: Palette) -> Group:
    state = (
        Text(change, style=palette.pending)
        if change is not None
        else Text(f"● {job.state}", style=state_style(job.state, palette))
    )
    header = Text.assemble(
        (f"Job {job.id}", "bold"),
        "  ",
        (fmt.shown(job.kind), "bold"),
        "  ",
        state,
        "  ",
        (job_when(job, now), "dim"),
    )
    about = Text.assemble(
        "queue ",
        (job.queue, "bold"),
        f" · priority {job.priority} · attempt {job.attempt} of {job.max_attempts}",
        f" · tags {_some(job.tags, TAGS_SHOWN)}" if job.tags else "",
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
    times.add_row("attempted by", Text(_some(job.attempted_by[::-1], RUNNERS_SHOWN) or fmt.NONE))
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
    for entry in job.errors[::-1][:ERRORS_SHOWN]:
        parts.append(
            Text.assemble(
                (f"Attempt {entry.get('attempt', '?')}", "bold"),
                " · ",
                (_error_time(entry.get("at"), now), "dim"),
            )
        )
        parts.append(Text(_message(str(entry.get("error", ""))), style=palette.bad))
        trace = entry.get("trace")
        if trace:
            parts.append(Padding(Text(_trace(str(trace)), style="dim"), (0, 0, 0, 2)))
        parts.append(Text(""))
    if len(job.errors) > ERRORS_SHOWN:
        older = len(job.errors) - ERRORS_SHOWN
        parts.append(Text(f"… {older} older error{'s' if older > 1 else ''}", style="dim"))
    return Group(*parts)


def _some(items: list[str], shown: int) -> str:
    """The first few items, joined, and how many more there are."""
    more = f" … {len(items) - shown} more" if len(items) > shown else ""
    return fmt.shown(", ".join(items[:shown])) + more


def _message(text: str) -> str:
    if len(text) > MESSAGE_CHARS:
        text = f"{text[:MESSAGE_CHARS]}… ({len(text) - MESSAGE_CHARS:,} more characters)"
    return fmt.shown(text)


def _trace(text: str) -> str:
    """The trace's last lines (the exception is at the end), each cut to a screen's width."""
    lines = text[-TRACE_LINES * LINE_CHARS :].rstrip().splitlines()
    head = "… (earlier lines cut)\n" if len(lines) > TRACE_LINES else ""
    return head + fmt.shown("\n".join(_cut_line(x) for x in lines[-TRACE_LINES:]))


class JobDetail(Static):
    def show(self, job: Job, now: datetime, change: str | None, palette: Palette) -> None:
        self.update(job_detail(job, now, change, palette))
