"""River's recipe for a single long-running loop, as a new user writes it in pqw:
`pqw worker tests.workers.recipe:client`.

A periodic job every second, run on start, unique for a day over its live states
(so a finished run lets the next tick insert the next one), whose handler loops
until its job is told to stop. Like tests/workers/app.py, it writes what it does
into the test tables with the database clock.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

from engine import Client, Job, JobState, UniqueOpts, every
from tests.clients import FAST

LIVE = [JobState.AVAILABLE, JobState.PENDING, JobState.RUNNING, JobState.RETRYABLE,
        JobState.SCHEDULED]  # fmt: skip
HEARTBEAT_INTERVAL = 0.3
HEARTBEAT_TIMEOUT = 2.0
# Far longer than any test waits: a stop that waited for it would fail the test.
STOP_TIMEOUT = 120.0

client = Client(
    queues={"default": 4},
    maintenance=FAST,
    poll_interval=0.2,
    job_heartbeat_interval=HEARTBEAT_INTERVAL,
    stop_timeout=STOP_TIMEOUT,
    retry_backoff=lambda job: 0.0,
)

client.periodic(
    "recipe.loop",
    every(1),
    run_on_start=True,
    unique=UniqueOpts(by_period=timedelta(hours=24), by_state=LIVE),
)
if os.environ.get("PQW_TEST_TICKS"):
    # A schedule without unique options alongside: one job per scheduled time.
    client.periodic("test.tick", every(1))


async def record(event: str, job_id: int | None = None, **detail: object) -> None:
    await client.pool.execute(
        "INSERT INTO test_event (event, job_id, pid, detail) VALUES ($1, $2, $3, $4::text::jsonb)",
        event,
        job_id,
        os.getpid(),
        json.dumps(detail),
    )


@client.job("recipe.loop", heartbeat_timeout=HEARTBEAT_TIMEOUT)
async def recipe_loop(job: Job) -> None:
    run_id = await client.pool.fetchval(
        "INSERT INTO test_run (worker, job_id, pid) VALUES ('recipe', $1, $2) RETURNING id",
        job.id,
        os.getpid(),
    )
    await record("run-started", job.id, attempt=job.attempt)
    try:
        while not job.stopping:
            # A test asks a run to return by leaving a 'return-now' mark for its job.
            asked = await client.pool.fetchval(
                "UPDATE test_run SET last_seen_at = clock_timestamp() WHERE id = $1 "
                "RETURNING (SELECT count(*) FROM test_event "
                "           WHERE event = 'return-now' AND job_id = $2)",
                run_id,
                job.id,
            )
            if asked:
                await record("returned", job.id, attempt=job.attempt)
                return
            await job.sleep(0.1)  # wakes at once when the job is told to stop
        await record("stop-seen", job.id, attempt=job.attempt, reason=job.stop_reason)
    finally:
        await client.pool.execute(
            "UPDATE test_run SET ended_at = clock_timestamp() WHERE id = $1", run_id
        )


@client.job("test.tick")
async def tick(job: Job) -> None:
    await record("tick", job.id, scheduled_for=job.metadata.get("scheduled_for"))
