"""One queue's fetch loop: wake on notifications, poll as a fallback, never take more than
free slots, and stop taking any while too many outcomes wait to be written."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from engine.db.outage import is_connection_error, retry_delay
from engine.jobs.held import wait_event, wait_then_release
from engine.types import Job

log = logging.getLogger("pqw.producer")

# Outcomes a producer lets wait for their write before it stops fetching (at least
# its concurrency): a few flushes' worth, so a busy client still writes big batches.
MAX_UNWRITTEN = 1_000

Fetch = Callable[[str, int], Awaitable[list[Job]]]
StartJob = Callable[[Job, "Producer"], None]
Release = Callable[[], Awaitable[None]]


async def _nothing_held() -> None:
    return None


class Producer:
    def __init__(
        self,
        queue: str,
        concurrency: int,
        *,
        fetch: Fetch,
        start_job: StartJob,
        poll_interval: float = 1.0,
        release: Release = _nothing_held,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"queue {queue!r}: concurrency must be at least 1, got {concurrency}")
        self.queue = queue
        # What the code asked for; `concurrency` is what is in effect (an operator's
        # live setting, pqw_queue.concurrency, when there is one: see set_limit).
        self.own_concurrency = concurrency
        self.concurrency = concurrency
        self.active = 0
        # Finished jobs whose outcomes are not written yet. Up to max_unwritten of
        # them may wait while the next jobs run, so writes stay pipelined with
        # fetches and flushes batch well; past that, no slot is free until writes
        # catch up: stalled writes stop fetching instead of piling finished jobs
        # up in memory without bound.
        self.unwritten = 0
        self.max_unwritten = max(concurrency, MAX_UNWRITTEN)
        self._fetch = fetch
        # Hands back the connection `fetch` holds between fetches (engine.jobs.held):
        # called once a wait lasts, and when the loop ends.
        self._release = release
        self._start_job = start_job
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Something may be available: fetch as soon as a slot is free."""
        self._wake.set()

    def job_started(self) -> None:
        self.active += 1

    def job_finished(self, *, unwritten: bool = False) -> None:
        """A job ended; `unwritten`: its outcome is queued, and outcome_written() follows."""
        self.active -= 1
        if unwritten:
            self.unwritten += 1
        self._slot_freed.set()

    def outcome_written(self) -> None:
        """An outcome counted by job_finished(unwritten=True) is written (or found lost)."""
        self.unwritten -= 1
        self._slot_freed.set()

    def set_limit(self, concurrency: int | None) -> None:
        """Work with `concurrency` slots from now on (None: the code's own; 0: fetch
        nothing). Running jobs above a lowered limit finish; no new one starts until
        they are under it."""
        wanted = self.own_concurrency if concurrency is None else max(0, concurrency)
        if wanted == self.concurrency:
            return
        self.concurrency = wanted
        self.max_unwritten = max(wanted, MAX_UNWRITTEN)
        self._slot_freed.set()
        self._wake.set()

    @property
    def free(self) -> int:
        """Slots a fetch may fill now."""
        return min(
            self.concurrency - self.active,
            self.concurrency + self.max_unwritten - self.active - self.unwritten,
        )

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._slot_freed.set()

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        await wait_then_release(event, timeout, self._release)

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            await self._release()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            free = self.free
            if free <= 0:
                self._slot_freed.clear()
                await self._wait(self._slot_freed, self._poll_interval)
                continue
            self._wake.clear()
            try:
                jobs = await self._fetch(self.queue, free)
            except Exception as exc:
                if not is_connection_error(exc):
                    log.exception("pqw: fetching from queue %r failed", self.queue)
                elif failures == 0:
                    log.warning("pqw: cannot fetch from queue %r (%s); retrying", self.queue, exc)
                failures += 1
                await wait_event(self._wake, retry_delay(failures))
                continue
            if failures:
                log.info("pqw: fetching from queue %r again", self.queue)
            failures = 0
            for job in jobs:
                self._start_job(job, self)
            if len(jobs) < free and not self._stopping:
                # Drained as far as we know: wait for an insert, or poll.
                await self._wait(self._wake, self._poll_interval)
