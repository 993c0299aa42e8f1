"""Durable periodic jobs: interval and cron schedules whose next run time lives in the database."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from cronsim import CronSim, CronSimError

from engine import sql
from engine.errors import InvalidSchedule
from engine.insert_params import template_for
from engine.inserter import insert_statement
from engine.maintenance import Fence
from engine.types import InsertOpts, UniqueOpts
from engine.unique import ALL_STATES, explicit_key

log = logging.getLogger("pqw.periodic")


class Schedule(Protocol):
    def next_after(self, at: datetime) -> datetime:
        """The first run time strictly after `at`."""
        ...

    def describe(self) -> str: ...


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


def every(interval: timedelta | float) -> Every:
    """A schedule every `interval` (a timedelta or seconds), at least one second."""
    if not isinstance(interval, timedelta):
        interval = timedelta(seconds=interval)
    if interval < timedelta(seconds=1):
        raise InvalidSchedule(f"an interval schedule must be at least one second, got {interval}")
    return Every(interval)


def cron(expression: str, tz: str = "UTC") -> Cron:
    """A cron schedule (five fields; @hourly etc.); bad strings and zones fail here, not later."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(f"unknown time zone {tz!r}") from exc
    try:
        CronSim(expression, datetime.now(ZoneInfo(tz)))
    except (CronSimError, ValueError, KeyError, IndexError) as exc:
        raise InvalidSchedule(f"invalid cron expression {expression!r}: {exc}") from exc
    return Cron(expression, tz)


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    kind: str
    schedule: Schedule
    args: dict[str, Any]
    opts: InsertOpts
    run_on_start: bool


class PeriodicEnqueuer:
    """Upserts definitions, then (on the leader) inserts each due run exactly once."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self.pool = pool
        self.jobs: dict[str, PeriodicJob] = {}

    def add(self, job: PeriodicJob) -> None:
        if job.id in self.jobs:
            raise InvalidSchedule(f"periodic job id {job.id!r} is defined twice")
        # Validate kind and options now, not at the first run.
        template_for(job.kind, job.opts).row(job.args)
        self.jobs[job.id] = job

    async def sync_definitions(self) -> None:
        """Write this client's definitions; existing next-run times survive."""
        now = datetime.now(UTC)
        for job in self.jobs.values():
            first = now if job.run_on_start else job.schedule.next_after(now)
            await self.pool.execute(
                sql.UPSERT_PERIODIC,
                job.id,
                job.kind,
                job.schedule.describe(),
                json.dumps(job.args),
                json.dumps(_opts_json(job.opts)),
                first,
                job.schedule.next_after(now),
            )

    async def enqueue_due(self, fence: Fence) -> int:
        """Insert one job per due schedule and advance it, in one fenced transaction; how many."""
        if not self.jobs:
            return 0
        inserted = 0
        async with fence() as conn:
            due = await conn.fetch(sql.LOCK_DUE_PERIODIC, list(self.jobs))
            for row in due:
                job = self.jobs[row["id"]]
                scheduled_for: datetime = row["next_run_at"]
                now: datetime = row["now"]
                # Each run has its own unique key, over every state: even a run
                # finished and cleaned up long ago cannot be inserted twice.
                opts = job.opts.merged_with(
                    InsertOpts(
                        unique=UniqueOpts(by_state=tuple(ALL_STATES)),
                        metadata={
                            **(job.opts.metadata or {}),
                            "periodic_id": job.id,
                            "scheduled_for": scheduled_for.isoformat(),
                        },
                    )
                )
                params = template_for(job.kind, opts).row(job.args)
                params = type(params)(
                    params.template,
                    params.args,
                    params.args_json,
                    explicit_key("periodic", job.id, scheduled_for.isoformat()),
                )
                (result,) = await insert_statement(conn, [params])
                # Missed runs while nobody was up are caught up once: the next
                # run is the first one after now, not after the missed one.
                next_run = job.schedule.next_after(max(now, scheduled_for))
                await conn.execute(sql.ADVANCE_PERIODIC, job.id, next_run, result.job.id)
                if not result.duplicate:
                    inserted += 1
        return inserted


def _opts_json(opts: InsertOpts) -> dict[str, Any]:
    return {
        "queue": opts.queue,
        "priority": opts.priority,
        "max_attempts": opts.max_attempts,
        "tags": list(opts.tags) if opts.tags else None,
    }
