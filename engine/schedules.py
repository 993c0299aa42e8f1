"""Periodic schedules: every(...) on a fixed epoch-anchored grid, cron(...) in a time zone,
and the definition of a job inserted on one. Pure values; the periodic enqueuer
(engine.maintenance.periodic) keeps their next run times in the database."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from engine.errors import InvalidSchedule
from engine.types import InsertOpts


class Schedule(Protocol):
    def next_after(self, at: datetime) -> datetime:
        """The first run time strictly after `at`."""
        ...

    def describe(self) -> str: ...

    def spec(self) -> dict[str, Any]:
        """The schedule as JSON its row stores, so any leader can evaluate it."""
        ...


@dataclass(frozen=True)
class Every:
    """Runs on a fixed grid anchored at the Unix epoch, so every client agrees on the times."""

    interval: timedelta

    def next_after(self, at: datetime) -> datetime:
        step = self.interval.total_seconds()
        n = math.floor(at.timestamp() / step) + 1
        return datetime.fromtimestamp(n * step, UTC)

    def describe(self) -> str:
        return f"every {self.interval.total_seconds():g}s"

    def spec(self) -> dict[str, Any]:
        return {"every": self.interval.total_seconds()}


@dataclass(frozen=True)
class Cron:
    """A cron expression evaluated in a time zone (daylight-saving changes included)."""

    expression: str
    tz: str = "UTC"

    def next_after(self, at: datetime) -> datetime:
        local = at.astimezone(ZoneInfo(self.tz)).replace(microsecond=0)
        nxt: datetime = next(CronSim(self.expression, local))
        return nxt.astimezone(UTC)

    def describe(self) -> str:
        return f"cron {self.expression} {self.tz}"

    def spec(self) -> dict[str, Any]:
        return {"cron": self.expression, "tz": self.tz}


MAX_INTERVAL = timedelta(days=3660)


def every(interval: timedelta | float) -> Every:
    """A schedule every `interval` (a timedelta or seconds), at least one second."""
    if isinstance(interval, bool) or not isinstance(interval, timedelta | int | float):
        raise InvalidSchedule(
            f"an interval must be a timedelta or a number of seconds, "
            f"got {type(interval).__name__} {interval!r}"
        )
    if not isinstance(interval, timedelta):
        if not math.isfinite(interval):
            raise InvalidSchedule(f"an interval must be a finite number of seconds, got {interval}")
        try:
            interval = timedelta(seconds=interval)
        except OverflowError as exc:
            raise InvalidSchedule(f"an interval of {interval:g} seconds is too long") from exc
    if interval < timedelta(seconds=1):
        raise InvalidSchedule(f"an interval schedule must be at least one second, got {interval}")
    if interval > MAX_INTERVAL:
        # Run times far past the year 9999 could not be computed at all.
        raise InvalidSchedule(
            f"an interval schedule must be at most {MAX_INTERVAL.days} days, got {interval}; "
            "for rarer runs use cron(...)"
        )
    return Every(interval)


CRON_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def cron(expression: str, tz: str = "UTC") -> Cron:
    """A cron schedule (five fields; @hourly etc.); bad strings and zones fail here, not later."""
    if not isinstance(expression, str):
        raise InvalidSchedule(
            f"a cron expression must be a string, got {type(expression).__name__}"
        )
    if not isinstance(tz, str):
        raise InvalidSchedule(f"a time zone must be a string (like 'Europe/Berlin'), got {tz!r}")
    # cronsim reads five fields only; the usual nicknames become theirs.
    expression = CRON_NICKNAMES.get(expression.strip().lower(), expression)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(f"unknown time zone {tz!r}") from exc
    try:
        next(CronSim(expression, datetime.now(ZoneInfo(tz))))
    except (CronSimError, ValueError, KeyError, IndexError, StopIteration) as exc:
        raise InvalidSchedule(f"invalid cron expression {expression!r}: {exc}") from exc
    return Cron(expression, tz)


def schedule_from_spec(spec: object) -> Every | Cron:
    """The schedule a row stores (Schedule.spec), checked like every(...) and cron(...)."""
    if isinstance(spec, dict) and isinstance(spec.get("every"), int | float):
        try:
            return every(float(spec["every"]))
        except InvalidSchedule:
            raise
        except (OverflowError, ValueError) as exc:  # nan, inf, beyond timedelta
            raise InvalidSchedule(f"not a stored interval: {spec!r}") from exc
    if isinstance(spec, dict) and isinstance(spec.get("cron"), str):
        tz = spec.get("tz", "UTC")
        return cron(spec["cron"], tz if isinstance(tz, str) else "UTC")
    raise InvalidSchedule(f"not a stored schedule: {spec!r}")


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    kind: str
    schedule: Schedule
    args: dict[str, Any]
    opts: InsertOpts
    run_on_start: bool
