"""The raw baseline: what a plain asyncpg loop does on the same pqw_job table, in the same run.

Every pqw figure is also shown as a ratio to one of these, so figures stay
comparable on a noisy, shared machine. The raw loops keep nothing pqw keeps
(no leases or heartbeats, no attempt checks, no retries, no outage handling,
no throughput rows): they are the floor of what the database and the driver
cost, not a queue anyone should run.

- drain: one connection fetches with `FOR UPDATE SKIP LOCKED` up to the free
  slots (the same concurrency as pqw's), each job runs in a task of its own,
  and a second connection marks finished jobs completed in batches, one batch
  in flight at a time (what piles up meanwhile is the next batch).
- latency: an idle loop LISTENs on pqw's insert channel (the trigger on
  pqw_job notifies it, as it does pqw) and fetches when woken: LISTEN/NOTIFY
  wake-up, no polling. The insert is the same pqw `Client.insert` for both.
- inserts: a plain COPY of the same rows, and for unique rows one INSERT ...
  ON CONFLICT DO NOTHING over arrays, keys hashed in Python.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from engine import sql
from engine.jobs.insert_params import DEFAULT_MAX_ATTEMPTS
from engine.jobs.unique import DEFAULT_UNIQUE_STATES, unique_states_mask

QUEUE = "bench"
MAX_ATTEMPTS = DEFAULT_MAX_ATTEMPTS

# The same index pqw's fetch uses (state, queue, priority, scheduled_at, id).
RAW_FETCH = """
UPDATE pqw_job SET state = 'running', attempt = attempt + 1, attempted_at = now()
WHERE id IN (SELECT id FROM pqw_job
             WHERE state = 'available' AND queue = $1
             ORDER BY priority, scheduled_at, id
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
RETURNING id, args
"""
RAW_COMPLETE = """
UPDATE pqw_job SET state = 'completed', finalized_at = now() WHERE id = ANY($1::bigint[])
"""
RAW_UNIQUE_INSERT = """
INSERT INTO pqw_job (kind, args, queue, max_attempts, unique_key, unique_states)
SELECT kind, args, $3, $6, key, $5::text::bit(8)
FROM unnest($1::text[], $2::jsonb[], $4::bytea[]) AS u(kind, args, key)
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND pqw_job_state_in_bitmask(unique_states, state)
    DO NOTHING
RETURNING id
"""

Handler = Callable[[int, Any], Awaitable[None]]


async def _noop(_job_id: int, _args: Any) -> None:
    return None


class RawLoop:
    """The plain fetch/run/complete loop, on two connections of its own."""

    def __init__(self, dsn: str, concurrency: int, handler: Handler = _noop) -> None:
        self._dsn = dsn
        self._concurrency = concurrency
        self._handler = handler
        self._fetch_conn: asyncpg.Connection[Any] | None = None
        self._complete_conn: asyncpg.Connection[Any] | None = None
        self._active = 0
        self._done: list[int] = []
        self._slot_freed = asyncio.Event()
        self._finished = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.completed = 0

    async def connect(self) -> None:
        self._fetch_conn = await asyncpg.connect(self._dsn)
        self._complete_conn = await asyncpg.connect(self._dsn)
        # Parse both statements now, as pqw's pool does when it opens a connection.
        await self._fetch_conn.prepare(RAW_FETCH)
        await self._complete_conn.prepare(RAW_COMPLETE)

    async def close(self) -> None:
        for conn in (self._fetch_conn, self._complete_conn):
            if conn is not None:
                await conn.close()

    async def _run(self, job_id: int, args: str) -> None:
        try:
            await self._handler(job_id, json.loads(args))
        finally:
            self._active -= 1
            self._done.append(job_id)
            self._slot_freed.set()
            self._finished.set()

    def _start(self, rows: list[asyncpg.Record]) -> None:
        for row in rows:
            self._active += 1
            task = asyncio.create_task(self._run(row["id"], row["args"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def fetch_once(self) -> int:
        """Fetch up to the free slots and start what came; how many came."""
        assert self._fetch_conn is not None
        free = self._concurrency - self._active
        if free <= 0:
            return 0
        rows = await self._fetch_conn.fetch(RAW_FETCH, QUEUE, free)
        self._start(rows)
        return len(rows)

    async def complete_until(self, total: int) -> None:
        """Write finished jobs in batches until `total` are written."""
        assert self._complete_conn is not None
        while self.completed < total:
            if not self._done:
                self._finished.clear()
                await self._finished.wait()
                continue
            batch, self._done = self._done, []
            await self._complete_conn.execute(RAW_COMPLETE, batch)
            self.completed += len(batch)

    async def drain(self, total: int) -> None:
        """Fetch, run and complete until `total` jobs are written."""
        writer = asyncio.create_task(self.complete_until(total))
        fetched = 0
        try:
            while fetched < total:
                if self._concurrency - self._active <= 0:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                got = await self.fetch_once()
                fetched += got
                if got == 0:
                    # Another job may still be committing its insert: look again soon.
                    await asyncio.sleep(0.001)
            await writer
        finally:
            writer.cancel()

    async def listen(self) -> asyncpg.Connection[Any]:
        """A third connection LISTENing on pqw's insert channel: wakes `serve`."""
        conn: asyncpg.Connection[Any] = await asyncpg.connect(self._dsn)
        await conn.add_listener(sql.INSERT_CHANNEL, lambda *_: self._wake.set())
        return conn

    async def serve(self) -> None:
        """Idle until notified, then fetch until a fetch comes back short (until cancelled)."""
        writer = asyncio.create_task(self.complete_until(2**62))
        try:
            while True:
                self._wake.clear()
                while await self.fetch_once() == self._concurrency:
                    pass
                await self._wake.wait()
        finally:
            writer.cancel()


async def raw_drain(dsn: str, jobs: int, concurrency: int) -> float:
    """Jobs/s of the raw loop draining `jobs` waiting jobs of the bench queue."""
    loop = RawLoop(dsn, concurrency)
    await loop.connect()
    try:
        started = time.perf_counter()
        await loop.drain(jobs)
        return jobs / (time.perf_counter() - started)
    finally:
        await loop.close()


async def raw_latency(
    dsn: str,
    insert: Callable[[int], Awaitable[Any]],
    samples: int,
    interval: float,
    concurrency: int = 4,
) -> list[float]:
    """Milliseconds from `insert(n)` being called to the raw loop's handler starting job n."""
    started: dict[int, float] = {}
    arrived = asyncio.Event()

    async def ping(_job_id: int, args: Any) -> None:
        started[args["n"]] = time.perf_counter()
        arrived.set()

    loop = RawLoop(dsn, concurrency, ping)
    await loop.connect()
    listener = await loop.listen()
    server = asyncio.create_task(loop.serve())
    try:
        return await time_inserts(insert, samples, interval, started, arrived)
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        await listener.close()
        await loop.close()


async def time_inserts(
    insert: Callable[[int], Awaitable[Any]],
    samples: int,
    interval: float,
    started: dict[int, float],
    arrived: asyncio.Event,
    warm_up: int = 5,
) -> list[float]:
    """Insert one job every `interval` s, each once the one before has started; the
    latencies after the first `warm_up` (connections, prepared statements), in ms."""
    latencies = []
    for n in range(samples + warm_up):
        arrived.clear()
        sent = time.perf_counter()
        await insert(n)
        async with asyncio.timeout(10):
            await arrived.wait()
        if n >= warm_up:
            latencies.append((started[n] - sent) * 1000)
        await asyncio.sleep(interval)
    return latencies


async def raw_copy(dsn: str, work: list[list[tuple[str, str]]]) -> float:
    """Jobs/s of a plain COPY of (kind, args) batches into the bench queue, one connection."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn)
    try:
        jobs = sum(map(len, work))
        started = time.perf_counter()
        for batch in work:
            records = [(kind, args, QUEUE, MAX_ATTEMPTS) for kind, args in batch]
            await conn.copy_records_to_table(
                "pqw_job", records=records, columns=["kind", "args", "queue", "max_attempts"]
            )
        return jobs / (time.perf_counter() - started)
    finally:
        await conn.close()


def unique_key(kind: str, args_json: str) -> bytes:
    return hashlib.sha256(f"{kind}|{args_json}".encode()).digest()


async def raw_unique(dsn: str, work: list[list[tuple[str, str]]]) -> tuple[float, int]:
    """Jobs/s of plain ON CONFLICT DO NOTHING inserts of unique (kind, args) batches, and
    how many rows were duplicates (the raw loop does not look their holders up)."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn)
    mask = unique_states_mask(sorted(DEFAULT_UNIQUE_STATES))
    try:
        jobs = sum(map(len, work))
        inserted = 0
        started = time.perf_counter()
        for batch in work:
            kinds = [kind for kind, _ in batch]
            args = [a for _, a in batch]
            keys = [unique_key(kind, a) for kind, a in batch]
            rows = await conn.fetch(RAW_UNIQUE_INSERT, kinds, args, QUEUE, keys, mask, MAX_ATTEMPTS)
            inserted += len(rows)
        return jobs / (time.perf_counter() - started), jobs - inserted
    finally:
        await conn.close()
