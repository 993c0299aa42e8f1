"""The periodic enqueuer: durable schedules whose next run times live in the database.

Every client writes its definitions at start; the leader inserts each due run of
every enabled schedule, defined here or not (the row is the definition), in the
same fenced transaction that advances the schedule. Every time is the
database's, so clients whose clocks disagree still agree on the schedule.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import asyncpg

from engine import sql
from engine.errors import InvalidJobOption, InvalidJobType, InvalidSchedule
from engine.jobs.insert_params import InsertParams, encode_object, template_for
from engine.jobs.inserter import insert_statement
from engine.jobs.unique import ALL_STATES, explicit_key, unique_key
from engine.leadership.fence import Fence
from engine.maintenance.periodic_row import StoredSchedule, encode_opts
from engine.schedules import PeriodicJob
from engine.types import InsertOpts, UniqueOpts

log = logging.getLogger("pqw.periodic")

# Due schedules handled in one pass; the rest wait for the next (half a second).
PASS_LIMIT = 100


class PeriodicEnqueuer:
    """Writes this client's definitions, then (on the leader) inserts each due run once."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self.pool = pool
        self.jobs: dict[str, PeriodicJob] = {}

    def add(self, job: PeriodicJob) -> None:
        """A schedule to define (checked by define_periodic, kind defaults merged in)."""
        self.jobs[job.id] = job

    async def sync_definitions(self) -> None:
        """Write this client's definitions; existing next-run times survive."""
        now: datetime = await self.pool.fetchval(sql.NOW)  # not the host's clock
        for job in self.jobs.values():
            first = now if job.run_on_start else job.schedule.next_after(now)
            await self.pool.execute(
                sql.UPSERT_PERIODIC,
                job.id,
                job.kind,
                job.schedule.describe(),
                json.dumps(job.args),
                json.dumps(encode_opts(job.opts)),
                first,
                job.schedule.next_after(now),
                json.dumps(job.schedule.spec()),
            )

    async def enqueue_due(self, fence: Fence) -> int:
        """Insert one job per due schedule and advance it, in one fenced transaction; how many."""
        inserted = 0
        async with fence() as conn:
            for row in await conn.fetch(sql.LOCK_DUE_PERIODIC, PASS_LIMIT):
                try:
                    schedule = StoredSchedule.from_row(row)
                except (InvalidSchedule, InvalidJobOption, InvalidJobType) as exc:
                    # Left due: a client that defines it anew fixes the row.
                    if await conn.fetchval(sql.REFUSE_PERIODIC, row["id"], str(exc)):
                        log.error("pqw: periodic %s cannot be kept: %s", row["id"], exc)
                    continue
                inserted += await _tick(conn, schedule, row["next_run_at"], row["now"])
        return inserted


async def _tick(conn: Any, schedule: StoredSchedule, scheduled_for: datetime, now: datetime) -> int:
    """Insert the run due at `scheduled_for` (or skip it for a live duplicate) and
    advance the schedule; 1 when a job was inserted."""
    metadata = {
        **(schedule.opts.metadata or {}),
        "periodic_id": schedule.id,
        "scheduled_for": scheduled_for.isoformat(),
    }
    user_unique = schedule.opts.unique
    if user_unique is None:
        # Each scheduled time has its own unique key over every state: a second
        # pass racing this one (a leader change mid-pass) meets this run's row
        # and inserts nothing. Once the run is cleaned up the key is free again,
        # but by then the schedule has advanced past that time, in this same
        # transaction.
        opts = schedule.opts.merged_with(
            InsertOpts(unique=UniqueOpts(by_state=tuple(ALL_STATES)), metadata=metadata)
        )
        template = template_for(schedule.kind, opts)
        key = explicit_key("periodic", schedule.id, scheduled_for.isoformat())
    else:
        # The job's own unique options hold (River's recipe: one live copy of a
        # long job); a by_period bucket is that of the scheduled time, which
        # every leader computes alike.
        template = template_for(
            schedule.kind, schedule.opts.merged_with(InsertOpts(metadata=metadata))
        )
        key = unique_key(
            schedule.kind,
            schedule.args,
            template.queue,
            template.scheduled_at,
            user_unique,
            now=scheduled_for,
        )
    params = InsertParams(template, schedule.args, encode_object("args", schedule.args), key)
    (result,) = await insert_statement(conn, [params])
    skipped = result.duplicate and user_unique is not None
    # Missed runs while nobody was up are caught up once: the next run is the
    # first one after now, not after the missed one.
    next_run = schedule.schedule.next_after(max(now, scheduled_for))
    await conn.execute(
        sql.ADVANCE_PERIODIC,
        schedule.id,
        next_run,
        result.job.id,
        "skipped" if skipped else "inserted",
    )
    if skipped:
        log.debug(
            "pqw: periodic %s: skipped the run of %s: job %d still holds its unique key",
            schedule.id,
            scheduled_for.isoformat(),
            result.job.id,
        )
    return 0 if result.duplicate else 1
