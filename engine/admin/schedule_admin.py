"""Periodic schedules as an operator sees and changes them: list, switch, run now, edit, runs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from engine import sql
from engine.admin.guard import guarded
from engine.admin.job_search import JobSearch
from engine.admin.models import JobQuery, PeriodicInfo
from engine.admin.records import periodic_info
from engine.errors import InvalidJobOption, InvalidSchedule, NotFound
from engine.jobs.insert_params import DEFAULT_QUEUE
from engine.maintenance.config import CLIENT_DEAD_AFTER
from engine.schedules import Cron, Every, cron, every
from engine.types import Job

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_schedule(text: str) -> Every | Cron:
    """An operator's schedule, checked by the engine's own every(...) and cron(...):
    "every 30s", "every 5m", "90s", "cron 0 2 * * *", "cron 0 2 * * * Europe/Berlin",
    or a bare cron expression; InvalidSchedule says what is wrong."""
    words = text.split()
    if not words:
        raise InvalidSchedule("a schedule is 'every 30s', '5m', or a cron expression")
    if words[0] == "every":
        words = words[1:]
    if len(words) == 1 and words[0][-1:] in _UNITS:
        try:
            amount = float(words[0][:-1])
        except ValueError:
            raise InvalidSchedule(f"not an interval: {words[0]!r} (try 30s, 5m, 2h)") from None
        return every(amount * _UNITS[words[0][-1]])
    if words[0] == "cron":
        words = words[1:]
    # Five fields (or one @name), then an optional time zone.
    fields = 1 if words and words[0].startswith("@") else 5
    if len(words) not in (fields, fields + 1):
        raise InvalidSchedule(f"not an interval or a cron expression: {text!r}")
    tz = words[fields] if len(words) > fields else "UTC"
    return cron(" ".join(words[:fields]), tz)


@guarded
class ScheduleAdmin(JobSearch):
    """The operator's reads and actions on periodic schedules (and, from JobSearch, on
    jobs many at a time) over `pool`: the parts of Admin that are not one row's."""

    pool: asyncpg.Pool[Any]

    async def list_periodic_jobs(self) -> list[PeriodicInfo]:
        """Every schedule, with its last tick's outcome and whether a live client runs it."""
        rows = await self.pool.fetch(sql.LIST_PERIODIC, CLIENT_DEAD_AFTER, DEFAULT_QUEUE)
        return [periodic_info(r) for r in rows]

    async def delete_periodic(self, schedule_id: str) -> None:
        """Remove a schedule no code defines any more (any leader would keep running it).
        A client that still defines it writes it again when it starts."""
        if await self.pool.fetchval(sql.DELETE_PERIODIC, schedule_id) is None:
            raise NotFound(f"no periodic schedule with id {schedule_id!r}")

    async def set_periodic_enabled(self, schedule_id: str, enabled: bool) -> None:
        # No control message: the leader's periodic pass reads the row every half second.
        if await self.pool.fetchval(sql.SET_PERIODIC_ENABLED, schedule_id, enabled) is None:
            raise NotFound(f"no periodic schedule with id {schedule_id!r}")

    async def enable_periodic(self, schedule_id: str) -> None:
        await self.set_periodic_enabled(schedule_id, True)

    async def disable_periodic(self, schedule_id: str) -> None:
        await self.set_periodic_enabled(schedule_id, False)

    async def run_periodic_now(self, schedule_id: str) -> None:
        """Make the schedule due now: the leader inserts its job within half a second
        (under the job's own unique options, as at any tick), then it goes on as before.
        A disabled schedule is refused (InvalidJobOption): it runs nothing."""
        row = await self.pool.fetchrow(sql.RUN_PERIODIC_NOW, schedule_id)
        if row is None:
            raise NotFound(f"no periodic schedule with id {schedule_id!r}")
        if not row["enabled"]:
            raise InvalidJobOption(
                f"periodic schedule {schedule_id!r} is disabled, so nothing would run: "
                f"enable it first (`pqw periodic enable {schedule_id}`)"
            )

    async def set_periodic_schedule(self, schedule_id: str, schedule: str) -> str:
        """Replace the schedule live ("every 5m", "cron 0 2 * * *"; InvalidSchedule when
        it is not one); its next run follows the new schedule. The description stored."""
        parsed = parse_schedule(schedule)
        now: datetime = await self.pool.fetchval(sql.NOW)
        found = await self.pool.fetchval(
            sql.SET_PERIODIC_SCHEDULE,
            schedule_id,
            parsed.describe(),
            json.dumps(parsed.spec()),
            parsed.next_after(now),
        )
        if found is None:
            raise NotFound(f"no periodic schedule with id {schedule_id!r}")
        return parsed.describe()

    async def periodic_runs(self, schedule_id: str, limit: int = 10) -> list[Job]:
        """The schedule's last jobs, newest first: how each ended (while the cleaner keeps it)."""
        schedules = {p.id: p for p in await self.list_periodic_jobs()}
        schedule = schedules.get(schedule_id)
        if schedule is None:
            raise NotFound(f"no periodic schedule with id {schedule_id!r}")
        query = JobQuery(
            queue=schedule.queue, kind=schedule.kind, metadata={"periodic_id": schedule_id}
        )
        return await self.search_jobs(query, limit=limit)
