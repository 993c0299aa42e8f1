"""The top of the worker screen: status and liveness, the current run, progress, last error."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from engine.admin import LATE_AFTER_INTERVALS, LIVE_RUN_STATUSES, WorkerInfo, WorkerStatus
from tui import formatting as fmt
from tui.palette import Palette
from tui.widgets.workers_table import ending_note, heartbeat_age, live_status


def _seconds(value: float) -> str:
    return f"{value:g}s"


def liveness_line(w: WorkerInfo, now: datetime, change: str | None, palette: Palette) -> Text:
    """ "● running  heartbeat 1 second ago · beats every 1s, late after 2s, lost after 5s"."""
    status = live_status(w, now)
    line = Text()
    if change is not None:
        line.append(change, style=palette.pending)
    else:
        line.append(f"● {status}", style=palette.status(status))
        note = ending_note(w, status)
        if note:
            line.append(f" {note}", style=palette.warn)
    line.append("  ")
    if status in LIVE_RUN_STATUSES:
        age = heartbeat_age(w, now)
        style = {WorkerStatus.STALE: palette.bad, WorkerStatus.LATE: palette.warn}.get(status, "")
        line.append(f"heartbeat {fmt.ago(age)}", style=style)
        line.append(" · ")
    elif status is WorkerStatus.BACKING_OFF:
        line.append(f"next run {fmt.until((w.next_run_at - now).total_seconds())}", style="bold")
        line.append(" · ")
    elif status is WorkerStatus.STOPPED and w.updated_by:
        line.append(f"stopped by {w.updated_by}, {fmt.ago((now - w.updated_at).total_seconds())}")
        line.append(" · ")
    elif status is WorkerStatus.NO_CLIENT:
        line.append("no live client defines this worker", style=palette.bad)
        line.append(" · ")
    line.append(
        f"beats every {_seconds(w.heartbeat_interval)}, late after "
        f"{_seconds(LATE_AFTER_INTERVALS * w.heartbeat_interval)}, "
        f"lost after {_seconds(w.heartbeat_timeout)}",
        style="dim",
    )
    return line


def run_line(w: WorkerInfo, now: datetime, palette: Palette) -> Text:
    """ "run 14 on worker-a:4123 · up 3h 12m · job 90211 · 14 runs, 2 restarts · config v3"."""
    line = Text()
    if w.status in LIVE_RUN_STATUSES and w.where is not None:
        line.append(f"run {w.runs}", style="bold")
        line.append(" on ")
        line.append(w.where, style="bold")
        uptime = (now - w.run_started_at).total_seconds() if w.run_started_at else None
        line.append(f" · up {fmt.duration(uptime)} · job {w.job_id}")
    else:
        line.append("no run under way", style=palette.muted)
        if w.last_run_ended_at is not None:
            ended = fmt.ago((now - w.last_run_ended_at).total_seconds())
            line.append(f" · the last ended {ended}", style=palette.muted)
    line.append(f" · {w.runs} run{'s' if w.runs != 1 else ''}, ")
    line.append(
        f"{w.restarts} restart{'s' if w.restarts != 1 else ''}",
        style=palette.warn if w.restarts else "",
    )
    line.append(f" · config v{w.config_version} · {w.runners} client")
    line.append("s" if w.runners != 1 else "")
    line.append(" can run it")
    return line


def progress_line(w: WorkerInfo, now: datetime, palette: Palette) -> Text:
    line = Text("progress ", style="bold")
    line.append(fmt.progress(w.progress, 200))
    if w.progress_at is not None and w.progress:
        line.append(f"  ({fmt.ago((now - w.progress_at).total_seconds())})", style="dim")
    line.append("   last error ", style="bold")
    if w.last_error:
        line.append(fmt.one_line(w.last_error, 200), style=palette.bad)
        if w.last_error_at is not None:
            line.append(f"  ({fmt.ago((now - w.last_error_at).total_seconds())})", style="dim")
    else:
        line.append(fmt.NONE, style="dim")
    return line


class WorkerSummary(Static):
    def text(self, w: WorkerInfo, now: datetime, change: str | None, palette: Palette) -> Text:
        """What it shows: liveness, the current run, progress and last error."""
        lines = [
            liveness_line(w, now, change, palette),
            run_line(w, now, palette),
            progress_line(w, now, palette),
        ]
        text = Text("\n").join(lines)
        text.no_wrap, text.overflow = True, "ellipsis"
        return text
