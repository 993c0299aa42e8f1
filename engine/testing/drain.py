"""Run a queue's available jobs in a test, one at a time, and say how each ended."""

from __future__ import annotations

import json

from engine import sql
from engine.client import Client
from engine.jobs.completer import complete_statement
from engine.testing.attempt import run_attempt
from engine.testing.outcome import JobOutcome
from engine.types import Job

# Due scheduled and retryable jobs made available per pass (with_scheduled).
SCHEDULE_BATCH = 1_000


async def drain_queue(
    client: Client,
    queue: str = "default",
    *,
    limit: int | None = None,
    with_scheduled: bool = False,
) -> list[JobOutcome]:
    """Run the jobs available in `queue` with `client`'s handlers until none is left (or
    `limit` ran), one at a time in this task, and record each outcome as a started
    client would; the outcomes, in the order the jobs ran.

    The client needs only a database (`client.configure(dsn=...)`), not `start()`:
    nothing runs in the background, so what the test sees next is settled. Jobs
    the handlers insert into the queue run too, in the same drain. With
    `with_scheduled`, scheduled and retryable jobs that are due (a snooze or
    retry of 0 s included) become available first, as the leader would make them.
    Each outcome's `inserted` lists the jobs its handler inserted (written).
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    await client.connect()
    pool = client.pool
    kinds = client.kinds
    timeouts = json.dumps(
        {k.kind: k.heartbeat_timeout for k in kinds.values() if k.heartbeat_timeout}
    )
    ran: list[JobOutcome] = []
    while limit is None or len(ran) < limit:
        if with_scheduled:
            await pool.fetch(sql.SCHEDULE_DUE_JOBS, SCHEDULE_BATCH)
        statement, by_parameter = sql.fetch_jobs(1)
        rows = await pool.fetch(
            statement, queue, client.id, timeouts, client.heartbeat_timeout, None, *by_parameter
        )
        if not rows:
            break
        job = Job.from_record(rows[0])
        outcome, seen = await run_attempt(
            job,
            kinds.get(job.kind),
            hooks=client.middlewares.work,
            backoff=client.retry_backoff,
            known_kinds=lambda: sorted(kinds),
            replace_inserts=False,
        )
        if outcome is not None:
            await pool.fetch(*complete_statement([outcome], client.id))
        ran.append(seen)
    return ran
