"""How pqw's operator commands answer: tables for people, one JSON document for scripts,
times in words, one-line errors, and the question before a change that cannot be undone.

Exit codes every command keeps: 0 done, 1 not found or refused (the message says why),
2 called wrongly (usage).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

OK, FAILED, USAGE = 0, 1, 2
NONE = "-"
# A table cell longer than this is cut (args, errors): the table stays one line a row.
CELL_MAX = 60


def document(value: Any) -> Any:
    """`value` as JSON-ready data: dataclasses as dicts of their public fields (a Job's
    stop signal is no part of its value), recursively."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: document(getattr(value, f.name))
            for f in fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, dict):
        return {str(k): document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [document(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """`value` (dataclasses made dicts) as indented JSON; datetimes in ISO 8601."""

    def default(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.isoformat()
        return str(item)

    return json.dumps(document(value), indent=2, ensure_ascii=False, default=default)


def print_json(value: Any) -> int:
    print(to_json(value))
    return OK


def clean(text: object) -> str:
    """A user-named value made safe for a terminal: control characters (an escape
    sequence in a worker name) shown escaped instead of acted on."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)


def cell(value: object, width: int = CELL_MAX) -> str:
    if value is None:
        return NONE
    text = clean(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def compact(value: Any) -> str:
    """JSON on one line, for a table cell (args, config)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns under a header; the last column is not padded."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in texts)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = [v.ljust(w) for v, w in zip(values[:-1], widths, strict=False)]
        return "  ".join([*padded, values[-1]]).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in texts)])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> int:
    print(table(headers, rows) if rows else empty)
    return OK


def _now() -> datetime:
    return datetime.now(UTC)


def ago(at: datetime | None, now: datetime | None = None) -> str:
    """ "3 minutes ago" (or "in 3 minutes" for a time ahead); a dash for none."""
    import humanize  # only the commands that print times pay for it

    if at is None:
        return NONE
    delta = (now or _now()) - at
    if delta < timedelta(0):
        return "in " + humanize.naturaldelta(-delta)
    return humanize.naturaltime(delta)


def seconds(value: float | None) -> str:
    """ "2 hours" for a duration in seconds; a dash for none."""
    import humanize

    if value is None:
        return NONE
    words: str = humanize.naturaldelta(timedelta(seconds=max(0.0, value)))
    # "every 1 second", not humanize's "every a second".
    for article in ("a ", "an "):
        if words.startswith(article):
            return "1 " + words[len(article) :]
    return words


def plural(n: int, noun: str) -> str:
    """ "1 job", "2 jobs", "1,000 jobs"."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def usage(command: str, message: str) -> int:
    """Say what is wrong with how `pqw command` was called; the exit code for it (2)."""
    print(f"pqw {command}: error: {clean(message)}", file=sys.stderr)
    return USAGE


def refused(message: str) -> int:
    """Say why nothing (or not everything) was done; the exit code for it (1)."""
    print(f"pqw: error: {clean(message)}", file=sys.stderr)
    return FAILED


async def ask(prompt: str) -> str:
    """input(prompt) that a signal can end. Not asyncio.to_thread: asyncio.run waits for
    its executor's threads, so a Ctrl-C or SIGTERM at the question waited for Enter. A
    daemon thread left reading holds up neither the loop's end nor the process's exit."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def settle(how: Callable[[Any], object], value: Any) -> None:
        if not answer.done():  # cancelled: nobody waits for the answer any more
            how(value)

    def read() -> None:
        try:
            line = input(prompt)
        except BaseException as exc:  # EOFError (ctrl-d) is the caller's to take
            outcome: tuple[Callable[[Any], object], Any] = (answer.set_exception, exc)
        else:
            outcome = (answer.set_result, line)
        with contextlib.suppress(RuntimeError):  # the loop closed: the command has ended
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=read, name="pqw-question", daemon=True).start()
    return await answer


async def confirm(command: str, question: str, *, yes: bool) -> int | None:
    """None when the change may go ahead: --yes, or "y" at the question. Else the exit
    code: 2 with no terminal to ask on (pass --yes), 1 when the answer was no."""
    if yes:
        return None
    if not sys.stdin.isatty():
        asked = question.rstrip("?")
        return usage(
            command, f"{asked}: no terminal to ask on; add --yes to do it without a question"
        )
    try:
        answer = await ask(f"{question} [y/N] ")
    except EOFError:  # ctrl-d: no answer is no
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return None
    print("nothing changed")
    return FAILED
