"""How job states, numbers, times and free text look in the dashboard's narrow cells."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import humanize

from engine.admin import JobState

NONE = "—"

# The job states the dashboard shows (the queues' columns, the jobs list's state
# keys), in the order an operator reads them: waiting, running, then how it ended.
# Which states to show, and in what order, is the dashboard's choice, not the engine's.
DISPLAY_STATES = (
    JobState.AVAILABLE,
    JobState.SCHEDULED,
    JobState.RUNNING,
    JobState.RETRYABLE,
    JobState.COMPLETED,
    JobState.CANCELLED,
    JobState.DISCARDED,
)


def compact_number(n: int) -> str:
    """1234 → "1.2k", 1_200_000 → "1.2M": for counts too large to read digit by digit."""
    for limit, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if n >= limit:
            value = n / limit
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return str(n)


def job_count(n: int, estimated: bool = False) -> str:
    """An exact count with thousands separators, or a planner estimate marked with ~."""
    if estimated:
        return "~" + compact_number(n)
    return f"{n:,}"


def ago(seconds: float | None) -> str:
    """ "2 seconds ago" (humanize); a dash when there is nothing to date."""
    if seconds is None:
        return NONE
    return humanize.naturaltime(timedelta(seconds=max(0.0, seconds)))


def until(seconds: float | None) -> str:
    """ "in 12 seconds" (humanize) for a time ahead; "due now" once it has come."""
    if seconds is None:
        return NONE
    if seconds < 1:
        return "due now"
    return "in " + humanize.naturaldelta(timedelta(seconds=seconds))


def duration(seconds: float | None) -> str:
    """A compact span with its two largest units: "45s", "12m 03s", "3h 12m", "2d 04h"."""
    if seconds is None:
        return NONE
    total = int(max(0.0, seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def age(seconds: float | None) -> str:
    """ "4s ago", "12m 03s ago": a compact age that lines up in a right-aligned column."""
    if seconds is None:
        return NONE
    return duration(seconds) + " ago"


def ahead(seconds: float | None) -> str:
    """ "in 12s", "in 16h 33m"; "due now" once it has come."""
    if seconds is None:
        return NONE
    if seconds < 1:
        return "due now"
    return "in " + duration(seconds)


# Control characters (but newline and tab) shown as escapes: written to a terminal
# as they are, an ESC starts an escape sequence (colours, titles, cursor moves).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown(text: str) -> str:
    """Text safe to put on a terminal: each control character as its escape (\\x1b)."""
    if text.isprintable() or not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def one_line(text: str | None, width: int) -> str:
    """The first line of text, cut to width with an ellipsis; a dash for nothing."""
    if not text:
        return NONE
    # Only the head is looked at: a cell is one line, whatever the size of the text.
    head = text[: width * 4 + 256].strip()
    line = shown(head.splitlines()[0]) if head else ""
    if len(line) > width:
        return line[: max(1, width - 1)] + "…"
    return line or NONE


def progress(value: dict[str, Any] | None, width: int) -> str:
    """A worker's self-reported progress as "key=value key=value", cut to width."""
    if not value:
        return NONE
    if not isinstance(value, dict):  # a row written by hand: shown, not trusted
        return json_line(value, width)
    return one_line(" ".join(f"{k}={v}" for k, v in list(value.items())[:50]), width)


def queue_concurrency(queues: dict[str, int]) -> str:
    """A client's queues as "default×10 mail×2"."""
    if not queues:
        return NONE
    return " ".join(f"{name}×{slots}" for name, slots in sorted(queues.items()))


def json_line(value: Any, width: int) -> str:
    """A JSON value on one line ({"to": "a@b.c"}), cut to width; a dash for nothing.

    Encoded lazily and only as far as the width: a megabyte of args costs a cell no
    more than a few bytes do.
    """
    if value in (None, {}, []):
        return NONE
    return one_line(json_head(value, width + 1)[0], width)


def json_head(
    value: Any, limit: int, indent: int | None = None, sort_keys: bool = False
) -> tuple[str, bool]:
    """The start of the value's JSON text, at least `limit` characters of it (all of it
    when shorter), and whether that is all of it; the encoder stops there."""
    encoder = json.JSONEncoder(ensure_ascii=False, default=str, indent=indent, sort_keys=sort_keys)
    pieces = encoder.iterencode(value)
    head: list[str] = []
    size = 0
    for piece in pieces:
        head.append(piece)
        size += len(piece)
        if size >= limit:
            break
    complete = next(pieces, None) is None
    return "".join(head), complete
