"""Batches finished attempts into one UPDATE per flush; nothing is dropped when the database blips."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import asyncpg

from engine import sql
from engine.db import json_text
from engine.db.outage import is_connection_error, retry_delay
from engine.jobs.executor import Outcome

log = logging.getLogger("pqw.completer")


class Completer:
    """Collects outcomes and writes them in batches, one flush in flight at a time.

    Under load, outcomes pile up while a flush is in flight, so batches grow by
    themselves; when idle, one outcome is written after a short linger.
    """

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        client_id: str,
        *,
        linger: float = 0.002,
        max_batch: int = 2_000,
    ) -> None:
        self._pool = pool
        self._client_id = client_id
        self._linger = linger
        self._max_batch = max_batch
        self._pending: deque[Outcome] = deque()
        self._has_work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.flushed = 0

    def add(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        self._idle.clear()
        self._has_work.set()

    @property
    def outstanding(self) -> dict[int, int]:
        """job id -> attempt of every outcome not yet written (still running in the database)."""
        return {o.job_id: o.attempt for o in self._pending}

    async def run(self) -> None:
        """Write outcomes until cancelled; no error ends this loop."""
        failures = 0
        while True:
            await self._has_work.wait()
            if len(self._pending) < self._max_batch and self._linger:
                await asyncio.sleep(self._linger)
            batch = [
                self._pending.popleft() for _ in range(min(len(self._pending), self._max_batch))
            ]
            try:
                await self._write(batch)
                failures = 0
            except Exception as exc:
                failures += 1
                if is_connection_error(exc):
                    # Put the batch back in front, unchanged, and try again later.
                    self._pending.extendleft(reversed(batch))
                    if failures == 1:
                        log.warning("pqw: cannot record finished jobs yet (%s); retrying", exc)
                    await asyncio.sleep(retry_delay(failures))
                    continue
                # Not the connection: find the outcome the database refuses, so
                # one bad row cannot hold every other completion back.
                await self._write_one_by_one(batch)
            if not self._pending:
                self._has_work.clear()
                self._idle.set()

    async def _write_one_by_one(self, batch: list[Outcome]) -> None:
        for outcome in batch:
            try:
                await self._write([outcome])
            except Exception as exc:
                if is_connection_error(exc):
                    self._pending.appendleft(outcome)
                    continue
                # The job stays running in the database; the rescuer takes it back.
                log.error(
                    "pqw: could not record the outcome of job %d (%s); left to the rescuer",
                    outcome.job_id,
                    exc,
                )

    async def _write(self, batch: list[Outcome]) -> None:
        if not batch:
            return
        rows = await self._pool.fetch(
            sql.COMPLETE_JOBS,
            [o.job_id for o in batch],
            [o.attempt for o in batch],
            [o.state.value for o in batch],
            [json_text.dumps(o.error) if o.error is not None else None for o in batch],
            [json_text.dumps(o.metadata) if o.metadata is not None else None for o in batch],
            [o.delay for o in batch],
            [o.refund for o in batch],
            self._client_id,
        )
        self.flushed += len(rows)
        missed = len(batch) - len(rows)
        if missed:
            log.warning(
                "pqw: %d finished attempt(s) no longer held by this client were not recorded "
                "(rescued or cancelled elsewhere)",
                missed,
            )

    async def wait_idle(self) -> None:
        """Return once everything added so far is written."""
        await self._idle.wait()

    def __len__(self) -> int:
        return len(self._pending)
