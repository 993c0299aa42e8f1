"""The periodic enqueuer: durable schedules whose next run times live in the database.

Every client writes its definitions at start; the leader inserts each due run
exactly once, in the same fenced transaction that advances the schedule.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from engine import sql
from engine.errors import InvalidSchedule
from engine.jobs.insert_params import template_for, validate_kind
from engine.jobs.inserter import insert_statement
from engine.jobs.unique import ALL_STATES, explicit_key
from engine.leadership.fence import Fence
from engine.schedules import PeriodicJob, Schedule
from engine.types import InsertOpts, UniqueOpts

log = logging.getLogger("pqw.periodic")


def define_periodic(
    kind: str,
    schedule: Schedule,
    *,
    args: Mapping[str, Any] | None,
    id: str | None,
    run_on_start: bool,
    opts: InsertOpts,
    defined: Collection[str],
) -> PeriodicJob:
    """A schedule's definition, or a clear error now rather than at its first run."""
    if not hasattr(schedule, "next_after"):
        raise InvalidSchedule("schedule must be every(...) or cron(...)")
    job = PeriodicJob(
        id=id or kind,
        kind=validate_kind(kind),
        schedule=schedule,
        args=dict(args or {}),
        opts=opts,
        run_on_start=run_on_start,
    )
    if job.id in defined:
        raise InvalidSchedule(f"periodic job id {job.id!r} is defined twice")
    template_for(job.kind, job.opts).row(job.args)
    return job


class PeriodicEnqueuer:
    """Upserts definitions, then (on the leader) inserts each due run exactly once."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self.pool = pool
        self.jobs: dict[str, PeriodicJob] = {}

    def add(self, job: PeriodicJob) -> None:
        """A schedule to keep (checked by define_periodic when it was defined)."""
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
                # Each scheduled time has its own unique key over every state: a
                # second pass racing this one (a leader change mid-pass) meets
                # this run's row and inserts nothing. Once the run is cleaned up
                # the key is free again, but by then the schedule has advanced
                # past that time, in this same transaction.
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
