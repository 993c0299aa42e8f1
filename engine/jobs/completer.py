"""Batches finished attempts into one UPDATE per flush; nothing is dropped when the database
blips, and nothing waits behind a row lock someone else holds."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import asyncpg

from engine import sql
from engine.db import json_text
from engine.db.outage import is_connection_error, retry_delay
from engine.jobs.executor import Outcome
from engine.jobs.held import HeldConnection, wait_then_release
from engine.types import JobState

log = logging.getLogger("pqw.completer")

# Called once an outcome is settled: written, or found no longer this client's.
Settled = Callable[[], None]
Entry = tuple[Outcome, Settled | None]


class Completer:
    """Collects outcomes and writes them in batches, one flush in flight at a time.

    Under load, outcomes pile up while a flush is in flight, so batches grow by
    themselves; when idle, one outcome is written after a short linger. An
    outcome whose job row someone else has locked is kept and tried again a
    little later (see sql.COMPLETE_JOBS); until then it is still held, and
    heartbeated, like a running job.
    """

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        client_id: str,
        *,
        linger: float = 0.002,
        max_batch: int = 2_000,
    ) -> None:
        # Kept from one flush to the next while outcomes keep coming (engine.jobs.held).
        self._conn = HeldConnection(pool)
        self._client_id = client_id
        self._linger = linger
        self._max_batch = max_batch
        self._pending: deque[Entry] = deque()
        self._in_flight: list[Entry] = []
        self._deferred: list[Entry] = []  # rows locked by someone else: tried again later
        self._deferred_until = 0.0
        self._busy_rounds = 0
        self._has_work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.flushed = 0

    def add(self, outcome: Outcome, settled: Settled | None = None) -> None:
        """Queue an outcome; `settled()` is called once it is written (or found lost)."""
        self._pending.append((outcome, settled))
        self._idle.clear()
        self._has_work.set()

    def _entries(self) -> Iterable[Entry]:
        yield from self._in_flight
        yield from self._pending
        yield from self._deferred

    @property
    def outstanding(self) -> dict[int, int]:
        """job id -> attempt of every outcome not yet written (still running in the database)."""
        return {o.job_id: o.attempt for o, _ in self._entries()}

    async def run(self) -> None:
        """Write outcomes until cancelled; no error ends this loop."""
        try:
            await self._run()
        finally:
            await self._conn.release()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            if not self._pending:
                self._has_work.clear()
                wait = max(0.0, self._deferred_until - loop.time()) if self._deferred else None
                await wait_then_release(self._has_work, wait, self._conn.release)
            if self._deferred and loop.time() >= self._deferred_until:
                self._pending.extend(self._deferred)
                self._deferred.clear()
            if not self._pending:
                continue
            if len(self._pending) < self._max_batch and self._linger:
                await asyncio.sleep(self._linger)
            count = min(len(self._pending), self._max_batch)
            self._in_flight = [self._pending.popleft() for _ in range(count)]
            try:
                busy = await self._write(self._in_flight)
                failures = 0
            except Exception as exc:
                failures += 1
                if is_connection_error(exc):
                    # Put the batch back in front, unchanged, and try again later.
                    self._pending.extendleft(reversed(self._in_flight))
                    self._in_flight = []
                    if failures == 1:
                        log.warning("pqw: cannot record finished jobs yet (%s); retrying", exc)
                    await asyncio.sleep(retry_delay(failures))
                    continue
                # Not the connection: find the outcome the database refuses, so
                # one bad row cannot hold every other completion back.
                busy = await self._write_one_by_one(self._in_flight)
            self._in_flight = []
            self._defer(busy, loop.time())
            if not self._pending and not self._deferred:
                self._idle.set()

    def _defer(self, busy: list[Entry], now: float) -> None:
        if not busy:
            self._busy_rounds = 0
            return
        self._busy_rounds += 1
        if not self._deferred:
            self._deferred_until = now + retry_delay(self._busy_rounds, base=0.025, cap=1.0)
        self._deferred.extend(busy)

    async def _write_one_by_one(self, batch: list[Entry]) -> list[Entry]:
        busy: list[Entry] = []
        for index, entry in enumerate(batch):
            try:
                busy += await self._write([entry])
            except Exception as exc:
                if is_connection_error(exc):
                    # Back in front, in order, for the next flush.
                    self._pending.extendleft(reversed(batch[index:]))
                    return busy
                # The job stays running in the database; the rescuer takes it back.
                log.error(
                    "pqw: could not record the outcome of job %d (%s); left to the rescuer",
                    entry[0].job_id,
                    exc,
                )
                _settle(entry)
        return busy

    async def _write(self, batch: list[Entry]) -> list[Entry]:
        """Write a batch; the entries whose rows were locked by someone else (not settled)."""
        if not batch:
            return []
        outcomes = [o for o, _ in batch]
        rows = await self._conn.fetch(*complete_statement(outcomes, self._client_id))
        busy_ids = {r["id"] for r in rows if r["busy"]}
        written = len(rows) - len(busy_ids)
        self.flushed += written
        missed = len(batch) - len(rows)
        if missed:
            log.warning(
                "pqw: %d finished attempt(s) no longer held by this client were not recorded "
                "(rescued or cancelled elsewhere)",
                missed,
            )
        busy: list[Entry] = []
        for entry in batch:
            if entry[0].job_id in busy_ids:
                busy.append(entry)
            else:
                _settle(entry)
        return busy

    async def wait_idle(self) -> None:
        """Return once everything added so far is written."""
        await self._idle.wait()

    def __len__(self) -> int:
        """Outcomes not written yet: queued, in flight, or waiting for a locked row."""
        return len(self._pending) + len(self._in_flight) + len(self._deferred)


def _simply_completed(o: Outcome) -> bool:
    return (
        o.state is JobState.COMPLETED
        and o.error is None
        and o.metadata is None
        and o.delay is None
        and not o.refund
    )


def _settle(entry: Entry) -> None:
    settled = entry[1]
    if settled is not None:
        settled()


def complete_statement(outcomes: Sequence[Outcome], client_id: str) -> tuple[Any, ...]:
    """The statement that writes these outcomes of `client_id`'s attempts, and its bind
    parameters: sql.COMPLETE_PLAIN_JOBS when every attempt simply completed."""
    if all(_simply_completed(o) for o in outcomes):
        return (
            sql.COMPLETE_PLAIN_JOBS,
            [o.job_id for o in outcomes],
            [o.attempt for o in outcomes],
            client_id,
        )
    return general_complete_statement(outcomes, client_id)


def general_complete_statement(outcomes: Sequence[Outcome], client_id: str) -> tuple[Any, ...]:
    """sql.COMPLETE_JOBS and its bind parameters: any outcomes, as a mixed flush sends them."""
    return (
        sql.COMPLETE_JOBS,
        [o.job_id for o in outcomes],
        [o.attempt for o in outcomes],
        client_id,
        [o.state.value for o in outcomes],
        [json_text.dumps(o.error) if o.error is not None else None for o in outcomes],
        [json_text.dumps(o.metadata) if o.metadata is not None else None for o in outcomes],
        [o.delay for o in outcomes],
        [o.refund for o in outcomes],
    )
