"""Each insert option on its own: checked, or a clear error naming it and what is allowed.

The names a user gives (kinds, tags, queues) are checked here too: what Postgres
could not store, and what would not be a name (control characters), is refused
before anything is sent.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection
from datetime import datetime

from engine.db.storable import name_problem
from engine.errors import InvalidJobOption, InvalidJobType
from engine.jobs.unique import PERSISTENT_KIND_PREFIX, RESERVED_KIND_PREFIX

MAX_ATTEMPTS_LIMIT = 32767  # pqw_job.max_attempts is a smallint
PRIORITY_RANGE = range(0, 10)
NAME_MAX = 128
TAG_MAX = 255
QUEUE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def validate_kind(kind: object) -> str:
    """A kind a user may insert, register or schedule: a short string outside pqw's own."""
    if not isinstance(kind, str):
        raise InvalidJobType(f"kind must be a string, got {type(kind).__name__}")
    if not 1 <= len(kind) <= NAME_MAX:
        raise InvalidJobOption(
            f"kind must be 1 to {NAME_MAX} characters, got {len(kind)}: {kind[:NAME_MAX]!r}"
        )
    problem = name_problem(kind)
    if problem is not None:
        raise InvalidJobOption(f"kind {kind!r} {problem}")
    if kind.startswith(PERSISTENT_KIND_PREFIX):
        name = kind[len(PERSISTENT_KIND_PREFIX) :]
        raise InvalidJobOption(
            f"job kind {kind!r} is reserved: the runs of a persistent worker are inserted "
            f"by pqw itself, one live run at a time. Define the loop with "
            f"@client.persistent({name!r}); start, stop or restart it with "
            f"Admin.start_worker/stop_worker/restart_worker or `pqw persistent start {name}`"
        )
    if kind.startswith(RESERVED_KIND_PREFIX):
        raise InvalidJobOption(
            f"job kind {kind!r} is reserved: kinds starting with {RESERVED_KIND_PREFIX!r} "
            f"are pqw's own; name yours without that prefix"
        )
    return kind


def validate_queue(queue: object) -> str:
    if not isinstance(queue, str):
        raise InvalidJobType(f"queue must be a string, got {type(queue).__name__}")
    if not QUEUE_PATTERN.match(queue):
        raise InvalidJobOption(
            f"queue must be 1 to {NAME_MAX} characters from [A-Za-z0-9_.:-], got {queue!r}"
        )
    return queue


def validate_seconds(value: object, what: str, *, zero: bool = False) -> float:
    """A finite number of seconds, positive (or zero when `zero`); a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidJobType(f"{what} must be a number of seconds, got {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        raise InvalidJobOption(f"{what} must be finite seconds {bound}, got {value!r}")
    return seconds


def heartbeat_timeout_after(interval: float, timeout: object, what: str) -> float:
    seconds = validate_seconds(timeout, what)
    if seconds <= interval:
        raise InvalidJobOption(
            f"{what} ({seconds:g}s) must be longer than the job heartbeat interval "
            f"({interval:g}s), or every running job is taken back from its live client"
        )
    return seconds


def unknown_options(what: str, unknown: Collection[str], valid: Collection[str]) -> InvalidJobType:
    """The error for misspelt keyword options: each named, with a close valid one."""
    hints = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, list(valid), n=1)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    return InvalidJobType(
        f"unknown {what} option(s): {', '.join(hints)}; the options are {', '.join(sorted(valid))}"
    )


def validate_concurrency(queue: str, concurrency: object) -> int:
    """How many jobs of `queue` a client runs at once: a positive int."""
    validate_queue(queue)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidJobOption(
            f"queue {queue!r}: concurrency must be a positive int, got {concurrency!r}"
        )
    return concurrency


def validate_max_attempts(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJobType(f"max_attempts must be an int, got {type(value).__name__}")
    if not 1 <= value <= MAX_ATTEMPTS_LIMIT:
        hint = (
            "; to keep a loop alive forever, define a persistent worker "
            "(@client.persistent): it restarts with backoff and never spends attempts"
            if value > MAX_ATTEMPTS_LIMIT
            else ""
        )
        raise InvalidJobOption(
            f"max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT} "
            f"(the database column is a smallint), got {value}{hint}"
        )
    return value


def validate_priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJobType(f"priority must be an int, got {type(value).__name__}")
    if value not in PRIORITY_RANGE:
        raise InvalidJobOption(f"priority must be between 0 and 9 (0 runs first), got {value}")
    return value


def validate_scheduled_at(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidJobType(f"scheduled_at must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidJobType("scheduled_at must be timezone-aware (got a naive datetime)")
    return value


def validate_tags(tags: object) -> tuple[str, ...]:
    if isinstance(tags, str) or not isinstance(tags, list | tuple):
        raise InvalidJobType(f"tags must be a list of strings, got {type(tags).__name__}")
    for tag in tags:
        if not isinstance(tag, str) or not 1 <= len(tag) <= TAG_MAX:
            shown = tag[:TAG_MAX] if isinstance(tag, str) else tag
            raise InvalidJobOption(
                f"each tag must be a string of 1 to {TAG_MAX} characters: {shown!r}"
            )
        problem = name_problem(tag)
        if problem is not None:
            raise InvalidJobOption(f"tag {tag!r} {problem}")
    return tuple(tags)


def validate_name(value: object, what: str, max_length: int = NAME_MAX) -> str:
    """A name (a persistent worker's, a schedule's id): 1 to max_length printable characters."""
    if not isinstance(value, str):
        raise InvalidJobType(f"{what} must be a string, got {type(value).__name__}")
    if not 1 <= len(value) <= max_length:
        raise InvalidJobOption(
            f"{what} must be 1 to {max_length} characters, got {len(value)}: {value[:max_length]!r}"
        )
    problem = name_problem(value)
    if problem is not None:
        raise InvalidJobOption(f"{what} {value!r} {problem}")
    return value


def validate_flag(value: object, what: str) -> bool:
    """True or False, not merely something truthy ("no" would be)."""
    if not isinstance(value, bool):
        raise InvalidJobType(f"{what} must be True or False, got {type(value).__name__}")
    return value
