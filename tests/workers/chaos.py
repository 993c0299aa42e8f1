"""The chaos soak's worker app: `pqw worker tests.workers.chaos:client` (tests/test_chaos.py).

Every handler writes what it does into a ledger, through a pool of its own (as
an application's own database pool would be: none of pqw's sessions, so cutting
pqw's sessions never cuts the ledger's), idempotently and retried across
outages, with the database clock:

- chaos_execution: one row per handler execution of a job, keyed by (job id,
  attempt, snoozes so far, pid), so a write retried after a lost reply counts once
  and two processes running the same attempt would show as two rows;
- chaos_run and chaos_beat: each persistent run, and each unit of work it did,
  with the wall-clock time of the `ctx.stopping` check that allowed the work
  (`checked_at`: the host's clock, which is the database's on this one machine)
  and the database's time of the write (`at`);
- chaos_leader: a mark per pass of a fenced leader task, committed only while
  its client held the lease (the leader's timeline).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

import asyncpg

from engine import Client, Job, JobSnooze, JobState, PersistentContext, UniqueOpts, every
from engine.db.outage import is_connection_error
from tests.clients import FAST

LEDGER_TABLES = """
CREATE TABLE IF NOT EXISTS chaos_execution (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id bigint NOT NULL, kind text NOT NULL, attempt int NOT NULL, snoozes int NOT NULL,
    pid int NOT NULL, client_id text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (job_id, attempt, snoozes, pid));
CREATE TABLE IF NOT EXISTS chaos_run (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker text NOT NULL, job_id bigint NOT NULL, pid int NOT NULL, client_id text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at timestamptz, end_reason text,
    UNIQUE (job_id, pid));
CREATE TABLE IF NOT EXISTS chaos_beat (
    run_id bigint NOT NULL, seq int NOT NULL,
    checked_at timestamptz NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS chaos_leader (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id text NOT NULL, pid int NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp());
"""

# Leases. A job's heartbeat timeout is longer than any restart of the server
# takes (so an outage alone never gets a job rescued), shorter than a freeze.
JOB_HEARTBEAT_INTERVAL = 0.3
JOB_HEARTBEAT_TIMEOUT = 5.0
PERSISTENT_INTERVAL = 0.5
PERSISTENT_TIMEOUT = 3.0
PERSISTENT_WORKERS = ("alpha", "beta")
BEAT_EVERY = 0.1  # a persistent run's unit of work
RECIPE_ROUNDS = 20  # a recipe run loops this many rounds of BEAT_EVERY, then returns
LEADER_MARK_EVERY = 0.2
# Every live state: a finished recipe run lets the next tick insert the next one.
LIVE = (JobState.AVAILABLE, JobState.PENDING, JobState.RUNNING, JobState.RETRYABLE,
        JobState.SCHEDULED)  # fmt: skip

client = Client(
    queues={"default": 4},
    maintenance=FAST,
    poll_interval=0.2,
    job_heartbeat_interval=JOB_HEARTBEAT_INTERVAL,
    heartbeat_timeout=JOB_HEARTBEAT_TIMEOUT,
    stop_timeout=10.0,
    retry_backoff=lambda job: 0.2,
)

# The schedule without unique options: one job per scheduled time.
client.periodic("chaos.tick", every(1))
# River's recipe: unique over its live states, so at most one run is ever live.
client.periodic("chaos.recipe", every(1), run_on_start=True, unique=UniqueOpts(by_state=list(LIVE)))

_ledger: asyncpg.Pool[Any] | None = None
_ledger_lock = asyncio.Lock()


async def ledger() -> asyncpg.Pool[Any]:
    """The ledger's own pool (the application's, not pqw's), opened on first use."""
    global _ledger
    async with _ledger_lock:
        while _ledger is None:
            try:
                _ledger = await asyncpg.create_pool(
                    os.environ["PQW_CHAOS_DSN"],
                    min_size=0,
                    max_size=4,
                    server_settings={"application_name": "chaos-ledger"},
                )
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                await asyncio.sleep(0.1)
    return _ledger


async def write(statement: str, *args: object) -> Any:
    """Run a ledger statement until it works: an outage delays the ledger, never loses it.
    Every statement is idempotent, so one that committed before its reply was lost
    can run again."""
    while True:
        pool = await ledger()
        try:
            return await pool.fetchval(statement, *args)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            await asyncio.sleep(0.05)


async def record_execution(job: Job) -> None:
    await write(
        "INSERT INTO chaos_execution (job_id, kind, attempt, snoozes, pid, client_id) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        job.id,
        job.kind,
        job.attempt,
        int(job.metadata.get("snoozes", 0)),
        os.getpid(),
        client.id,
    )


class DesignedFailure(Exception):
    """The failure a job's args asked for."""


def designed_failures(job: Job) -> int:
    """Failed attempts recorded by handlers (a rescue's entry is not one of them)."""
    return sum(1 for e in job.errors if not str(e.get("error", "")).startswith("rescued:"))


async def work(job: Job) -> None:
    """A job of the mix: sleeps a while, then snoozes, fails or completes as its args say."""
    await record_execution(job)
    await asyncio.sleep(float(job.args.get("ms", 20)) / 1000)
    if int(job.metadata.get("snoozes", 0)) < int(job.args.get("snooze", 0)):
        raise JobSnooze(0.3)
    if designed_failures(job) < int(job.args.get("fail", 0)):
        raise DesignedFailure(f"designed failure {designed_failures(job) + 1}")


client.register("chaos.work", work, heartbeat_timeout=JOB_HEARTBEAT_TIMEOUT)
client.register("chaos.unique", work, heartbeat_timeout=JOB_HEARTBEAT_TIMEOUT)


@client.job("chaos.tick", heartbeat_timeout=JOB_HEARTBEAT_TIMEOUT)
async def tick(job: Job) -> None:
    await record_execution(job)


@client.job("chaos.recipe", heartbeat_timeout=JOB_HEARTBEAT_TIMEOUT)
async def recipe(job: Job) -> None:
    """River's recipe: a loop that honours job.stopping, and returns after a while."""
    await record_execution(job)
    for _ in range(RECIPE_ROUNDS):
        if job.stopping:
            return
        await job.sleep(BEAT_EVERY)


async def persistent_loop(ctx: PersistentContext) -> None:
    """Beats once per unit of work, each allowed by a `ctx.stopping` check made just before."""
    run_id = await write(
        "INSERT INTO chaos_run (worker, job_id, pid, client_id) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (job_id, pid) DO UPDATE SET worker = EXCLUDED.worker RETURNING id",
        ctx.name,
        ctx.job_id,
        os.getpid(),
        client.id,
    )
    seq = 0
    while True:
        # The time is taken before the check: work the check allowed is never
        # recorded as checked later than it was.
        checked = time.time()
        if ctx.stopping:
            break
        seq += 1
        await write(
            "INSERT INTO chaos_beat (run_id, seq, checked_at) VALUES ($1, $2, to_timestamp($3)) "
            "ON CONFLICT DO NOTHING",
            run_id,
            seq,
            checked,
        )
        await ctx.sleep(BEAT_EVERY * random.uniform(0.5, 1.5))
    await write(
        "UPDATE chaos_run SET ended_at = clock_timestamp(), end_reason = $2 "
        "WHERE id = $1 AND ended_at IS NULL",
        run_id,
        ctx.stop_reason,
    )


for _name in PERSISTENT_WORKERS:
    client.persistent(
        _name,
        heartbeat_interval=PERSISTENT_INTERVAL,
        heartbeat_timeout=PERSISTENT_TIMEOUT,
        stop_grace=1.0,
    )(persistent_loop)


@client.leader_task("chaos-leader", LEADER_MARK_EVERY)
async def leader_mark(conn: Any) -> None:
    await conn.execute(
        "INSERT INTO chaos_leader (client_id, pid) VALUES ($1, $2)", client.id, os.getpid()
    )
