"""The application test worker processes run: `pqw worker tests.workers.app:client`.

Every handler writes what it does into test tables with the database clock, so
tests can check what happened across processes that were killed midway.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
from datetime import timedelta
from typing import Any

from engine import Client, Job, PersistentContext, every
from engine.db.outage import is_connection_error
from tests.clients import FAST

CREATE_TABLES = """
CREATE TABLE IF NOT EXISTS test_event (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event text NOT NULL, kind text, job_id bigint, attempt int, pid int,
    detail jsonb, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS test_run (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker text NOT NULL, job_id bigint, pid int,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at timestamptz);
"""

SINGLETON_INTERVAL = 0.3
SINGLETON_TIMEOUT = 1.5

# PQW_TEST_LEADER_TIMEOUTS=before-17 bounds the leader's transactions as on a server
# without transaction_timeout, whatever this server is.
MAINTENANCE = (
    dataclasses.replace(FAST, leader_transaction_timeout=False)
    if os.environ.get("PQW_TEST_LEADER_TIMEOUTS") == "before-17"
    else FAST
)

client = Client(
    queues={"default": 4},
    maintenance=MAINTENANCE,
    poll_interval=0.2,
    job_heartbeat_interval=0.2,
    retry_backoff=lambda job: 0.0,
)


async def record(event: str, job_id: int | None = None, **detail: object) -> None:
    await client.pool.execute(
        "INSERT INTO test_event (event, job_id, pid, detail) VALUES ($1, $2, $3, $4::text::jsonb)",
        event,
        job_id,
        os.getpid(),
        json.dumps(detail),
    )


@client.job("test.sleep", heartbeat_timeout=1.0)
async def sleep_job(job: Job) -> None:
    await record("started", job.id, attempt=job.attempt)
    await asyncio.sleep(float(job.args.get("seconds", 30)))
    await record("finished", job.id, attempt=job.attempt)


@client.job("test.record")
async def record_job(job: Job) -> None:
    await record("ran", job.id, n=job.args.get("n"))


@client.job("test.tick")
async def tick(job: Job) -> None:
    await record("tick", job.id, scheduled_for=job.metadata.get("scheduled_for"))


if os.environ.get("PQW_TEST_PERIODIC"):
    client.periodic("test.tick", every(timedelta(seconds=float(os.environ["PQW_TEST_PERIODIC"]))))


@client.leader_task("test-act", 0.05)
async def leader_act(conn: Any) -> None:
    """Leaves a mark each pass; the mark commits only behind the leadership fence."""
    await conn.execute(
        "INSERT INTO test_event (event, pid, detail) VALUES ('leader-act', $1, $2::text::jsonb)",
        os.getpid(),
        json.dumps({"client": client.id}),
    )


async def _retrying(statement: str, *args: object) -> object:
    """The overlap detector must not die with its connection: try again until it works."""
    while True:
        try:
            return await client.pool.fetchval(statement, *args)
        except Exception as exc:
            if not is_connection_error(exc) and "terminat" not in str(exc):
                raise
            await asyncio.sleep(0.05)


@client.persistent(
    "singleton",
    config={"interval": 0.1, "label": "v1"},
    heartbeat_interval=SINGLETON_INTERVAL,
    heartbeat_timeout=SINGLETON_TIMEOUT,
    stop_grace=0.5,
    restart_on_config_change=False,
)
async def singleton(ctx: PersistentContext) -> None:
    run_id = await _retrying(
        "INSERT INTO test_run (worker, job_id, pid) VALUES ('singleton', $1, $2) RETURNING id",
        ctx.job_id,
        os.getpid(),
    )
    await record("run-started", ctx.job_id, label=ctx.config["label"])
    try:
        while not ctx.stopping:
            if ctx.config_changed.is_set():
                ctx.config_changed.clear()
                await record("config-seen", ctx.job_id, label=ctx.config["label"])
            await _retrying(
                "UPDATE test_run SET last_seen_at = clock_timestamp() WHERE id = $1 RETURNING id",
                run_id,
            )
            await ctx.sleep(float(ctx.config["interval"]))
        await record("stop-seen", ctx.job_id, reason=ctx.stop_reason)
    finally:
        await _retrying(
            "UPDATE test_run SET ended_at = clock_timestamp() WHERE id = $1 RETURNING id", run_id
        )


if os.environ.get("PQW_TEST_STUBBORN"):

    @client.persistent("stubborn", heartbeat_interval=0.3, heartbeat_timeout=1.5, stop_grace=0.5)
    async def stubborn(ctx: PersistentContext) -> None:
        """Ignores ctx.stopping and swallows every cancellation: it never ends by itself."""
        await record("stubborn-started", ctx.job_id)
        while True:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.1)


COUNTER_INTERVAL = 0.25
COUNTER_TIMEOUT = 1.0

if os.environ.get("PQW_TEST_COUNTER"):

    @client.persistent(
        "counter", heartbeat_interval=COUNTER_INTERVAL, heartbeat_timeout=COUNTER_TIMEOUT
    )
    async def counter(ctx: PersistentContext) -> None:
        """Counts from where the last run's checkpoint left off, checkpointing each step."""
        await record("counter-started", ctx.job_id, run=ctx.run, state=ctx.state)
        count = int((ctx.state or {}).get("count", 0))
        while not ctx.stopping:
            count += 1
            await ctx.checkpoint({"count": count, "pid": os.getpid()})
            if count % 25 == 0:
                ctx.log(f"counted to {count}")
            await ctx.sleep(0.02)
