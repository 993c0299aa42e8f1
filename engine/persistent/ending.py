"""How a persistent run ends: its job is closed and the next run handed over in one
transaction, with the backoff that keeps a crashing, or quickly returning, handler from
restarting every second forever."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from engine import sql
from engine.db import json_text
from engine.db.storable import storable_text
from engine.jobs.executor import MESSAGE_LIMIT, TRACE_LIMIT
from engine.jobs.unique import NON_FINAL_MASK
from engine.persistent.options import PersistentWorker
from engine.types import Job

log = logging.getLogger("pqw.persistent")

MAX_BACKOFF = 60.0
# A run that lasted this long counts as healthy: backoff starts again at 1 s.
HEALTHY_RUN = 60.0

# Ends that start the next run (a stop does not, and a lost lease is the rescuer's).
RESTARTING = ("crash", "restart", "config", "returned", "cancel")

WithinLease = Callable[[Callable[[], Awaitable[int | None]]], Awaitable[int | None]]


def crash_backoff(consecutive_failures: int) -> float:
    """1 s, 2 s, 4 s, ... up to 60 s."""
    if consecutive_failures <= 0:
        return 0.0
    return float(min(MAX_BACKOFF, 2 ** (consecutive_failures - 1)))


@dataclass(frozen=True)
class RunEnd:
    """How one run ended: the job's final state, why, the handler's error, how long it ran."""

    state: str
    reason: str  # returned, crash, stop, cancel, restart, config, shutdown
    error: BaseException | None
    duration: float

    @property
    def backs_off(self) -> bool:
        """A crash, or a return nobody asked for before the run counted as healthy: a
        loop that keeps ending is restarted after 1 s, 2 s, 4 s ... 60 s, like a crash."""
        return self.reason == "crash" or (self.reason == "returned" and self.duration < HEALTHY_RUN)

    def error_entry(self, attempt: int) -> str | None:
        if self.error is None:
            return None
        return json_text.dumps(
            {
                "attempt": attempt,
                "at": datetime.now(UTC).isoformat(),
                "error": _message(self.error),
                "trace": storable_text(
                    "".join(traceback.format_exception(self.error))[-TRACE_LIMIT:], TRACE_LIMIT
                ),
            }
        )


def _message(error: BaseException) -> str:
    return storable_text(f"{type(error).__name__}: {error}", MESSAGE_LIMIT)


async def end_run(
    pool: asyncpg.Pool[Any],
    worker: PersistentWorker,
    job: Job,
    end: RunEnd,
    within_lease: WithinLease,
) -> bool:
    """End the job and hand over to the next run, in one transaction, if the lease holds
    (whether it did)."""
    name = worker.name
    entry = end.error_entry(job.attempt)
    metadata = json.dumps({"end_reason": end.reason})

    async def in_one_transaction() -> int | None:
        """The failure count afterwards, or None if the lease was gone."""
        async with pool.acquire() as conn, conn.transaction():
            ended = await conn.fetchval(
                sql.FINISH_RUN_JOB, job.id, job.attempt, end.state, entry, metadata
            )
            if ended is None:
                return None
            row = await conn.fetchrow(
                sql.FINISH_RUN_WORKER,
                name,
                end.backs_off,
                end.duration >= HEALTHY_RUN,
                0.0,
                end.reason in RESTARTING,
                _message(end.error) if end.error is not None else None,
                end.reason,
            )
            if row is None or not row["enabled"] or end.reason == "stop":
                return 0
            # Hand over now: another client (or this one) picks the next run up at
            # once, or, backing off, the supervisor once it is due.
            await conn.fetch(sql.INSERT_DUE_RUNS, name, NON_FINAL_MASK)
            return int(row["consecutive_failures"])

    failures = await within_lease(in_one_transaction)
    if failures is None:
        log.warning("pqw: persistent worker %s: run ended after its lease was lost", name)
        return False
    _log_end(name, end, failures)
    return True


def _log_end(name: str, end: RunEnd, failures: int) -> None:
    """One line per run; a loop that keeps ending says so once per back-off step."""
    delay = crash_backoff(failures) if end.backs_off else 0.0
    after = f"; next in {delay:.0f}s" if delay >= 1 else ""
    if end.reason == "returned" and end.backs_off:
        if failures <= 1:
            log.warning(
                "pqw: persistent worker %s: the handler returned after %.1fs without being "
                "asked to stop (a persistent handler loops until ctx.stopping); "
                "restarting with backoff%s",
                name,
                end.duration,
                after,
            )
        else:
            log.info(
                "pqw: persistent worker %s: returned again after %.1fs (%d in a row)%s",
                name,
                end.duration,
                failures,
                after,
            )
        return
    streak = f", {failures} in a row" if end.reason == "crash" and failures > 1 else ""
    log.info("pqw: persistent worker %s: run ended (%s%s)%s", name, end.reason, streak, after)
