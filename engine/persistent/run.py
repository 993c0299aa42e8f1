"""One persistent run on this client: claim it, hold its lease, end it and hand over."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from engine import sql
from engine.db import json_text
from engine.db.outage import is_connection_error
from engine.errors import InvalidConfig
from engine.jobs.executor import RunningJob, StopReason
from engine.jobs.unique import NON_FINAL_MASK
from engine.persistent.config_schema import validate_config
from engine.persistent.context import PersistentContext
from engine.persistent.options import PersistentWorker

log = logging.getLogger("pqw.persistent")

T = TypeVar("T")

MAX_BACKOFF = 60.0
# A run that lasted this long before crashing counts as healthy: backoff restarts at 1 s.
HEALTHY_RUN = 60.0
# A run that returns by itself faster than this waits a moment before the next,
# so a handler that returns at once does not spin.
MIN_RUN = 1.0


def crash_backoff(consecutive_failures: int) -> float:
    """1 s, 2 s, 4 s, ... up to 60 s."""
    if consecutive_failures <= 0:
        return 0.0
    return float(min(MAX_BACKOFF, 2 ** (consecutive_failures - 1)))


class PersistentRun:
    """One run on this client: claims it, holds its lease, ends it and hands over."""

    def __init__(
        self,
        worker: PersistentWorker,
        running: RunningJob,
        *,
        pool: asyncpg.Pool[Any],
        client_id: str,
    ) -> None:
        self.worker = worker
        # The started client's pool, which outlives every run (the client's own
        # handle is dropped as soon as stop() is done).
        self.pool = pool
        self.client_id = client_id
        self.running = running
        self.job = running.job
        self.ctx: PersistentContext | None = None
        self._poke = asyncio.Event()
        self._handler: asyncio.Task[None] | None = None
        self._lease_lost = False
        self._run_started_at: datetime | None = None
        self._early_stop: str | None = None
        self._grace: asyncio.TimerHandle | None = None

    def poke(self) -> None:
        """Check the worker's desired state now (a control message arrived)."""
        self._poke.set()

    def request_stop(self, reason: str) -> None:
        if self.ctx is None:
            # Asked before the handler started (e.g. shutdown during the claim):
            # remember it, the handler is told the moment it exists.
            self._early_stop = self._early_stop or reason
            return
        self.ctx._request_stop(reason)
        if self._grace is None:
            # After stop_grace, a handler that has not returned is cancelled.
            loop = asyncio.get_running_loop()
            self._grace = loop.call_later(self.worker.stop_grace, self.cancel_handler)

    def end_grace(self) -> None:
        """The run is over: its grace timer (if any) has nothing left to cancel."""
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def cancel_handler(self) -> None:
        if self._handler is not None and not self._handler.done():
            self._handler.cancel()

    async def execute(self) -> None:
        loop = asyncio.get_running_loop()
        claim = await self._within_lease(
            lambda: self.pool.fetchrow(
                sql.CLAIM_RUN,
                self.job.id,
                self.job.attempt,
                self.client_id,
                self.worker.name,
                NON_FINAL_MASK,  # only a job holding the run key is a run (see CLAIM_RUN)
            )
        )
        if claim is None:
            return  # the lease is gone already (or the worker row was deleted)
        self._run_started_at = claim["run_started_at"]
        started = loop.time()
        if not claim["enabled"]:
            await self.finish(state="cancelled", reason="stop", error=None, duration=0.0)
            return
        config = claim["config"]
        try:
            validate_config(self.worker.schema, config)
        except InvalidConfig as exc:
            log.error(
                "pqw: %s: stored config does not fit its type (%s); using it anyway",
                self.worker.name,
                exc,
            )
        self.ctx = PersistentContext(
            self.worker.name,
            run=claim["runs"],
            job_id=self.job.id,
            config=config,
            config_version=claim["config_version"],
            config_type=self.worker.config_type,
            restart_on_config_change=self.worker.restart_on_config_change,
        )
        if self._early_stop is not None:
            self.request_stop(self._early_stop)
        log.info("pqw: persistent worker %s: run started (job %d)", self.worker.name, self.job.id)
        self._handler = asyncio.create_task(
            self.worker.fn(self.ctx), name=f"pqw:persistent:{self.worker.name}"
        )
        lease = asyncio.create_task(self._hold_lease(), name=f"pqw:lease:{self.worker.name}")
        # Without its lease keeper the handler must not go on, whatever ended it.
        lease.add_done_callback(self._lease_ended)
        error: BaseException | None = None
        try:
            try:
                await asyncio.shield(self._handler)
            except asyncio.CancelledError:
                this = asyncio.current_task()
                if this is not None and this.cancelling() == 0:
                    # Not us: the handler itself was cancelled (grace ran out, or the
                    # lease was lost) and shield passed it on. Let its cleanup finish.
                    await asyncio.gather(self._handler, return_exceptions=True)
                elif self.running.stop_reason is not None:
                    # This client is shutting down hard, or an operator cancelled
                    # this run's job: end the handler now.
                    why = (
                        "shutdown" if self.running.stop_reason is StopReason.SHUTDOWN else "cancel"
                    )
                    self.ctx._request_stop(why)
                    self._handler.cancel()
                    await asyncio.gather(self._handler, return_exceptions=True)
                else:
                    raise
            except Exception:
                pass  # the handler's own error, read from the task below
            error = None if self._handler.cancelled() else self._handler.exception()
        finally:
            lease.cancel()
            await asyncio.gather(lease, return_exceptions=True)
        if self._lease_lost:
            log.warning("pqw: persistent worker %s: run ended, lease lost", self.worker.name)
            return
        duration = loop.time() - started
        reason = self.ctx.stop_reason
        if reason in ("stop", "cancel"):
            await self.finish(state="cancelled", reason=reason, error=None, duration=duration)
        elif error is not None and reason is None:
            await self.finish(state="discarded", reason="crash", error=error, duration=duration)
        else:
            await self.finish(
                state="completed", reason=reason or "returned", error=None, duration=duration
            )

    async def _within_lease(self, operation: Callable[[], Awaitable[T]]) -> T | None:
        """Run a database step, retrying connection errors while the lease can still hold."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.worker.heartbeat_timeout - self.worker.heartbeat_interval
        while True:
            try:
                return await operation()
            except Exception as exc:
                if not is_connection_error(exc) or loop.time() >= deadline:
                    log.error(
                        "pqw: persistent worker %s: %s; the rescuer takes over",
                        self.worker.name,
                        exc,
                    )
                    return None
                await asyncio.sleep(0.1)

    async def _hold_lease(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.worker.heartbeat_interval
        # The fetch set the first heartbeat: the lease is counted from there.
        last_confirmed = self.running.started
        assert self.ctx is not None
        while True:
            self._poke.clear()
            try:
                async with asyncio.timeout(interval):
                    await self._poke.wait()
            except TimeoutError:
                pass
            sent = loop.time()
            progress = self.ctx._take_progress()
            try:
                row = await asyncio.wait_for(
                    self.pool.fetchrow(
                        sql.HEARTBEAT_RUN, self.job.id, self.job.attempt, self.worker.name, progress
                    ),
                    timeout=interval,
                )
            except Exception as exc:
                self.ctx._keep_progress(progress)
                # The lease may already be another client's by the time it would
                # expire: stop one interval before that, so two runs never overlap
                # by more than one heartbeat interval even across a partition.
                if loop.time() >= last_confirmed + self.worker.heartbeat_timeout - interval:
                    self._lose_lease(f"cannot confirm the lease ({exc})")
                    return
                continue
            if row is None:
                self._lose_lease("the lease was taken over")
                return
            last_confirmed = sent
            try:
                await self._apply(row)
            except Exception:
                # The lease holds; the change is looked at again next heartbeat.
                log.exception("pqw: %s: applying a change failed", self.worker.name)

    async def _apply(self, row: asyncpg.Record) -> None:
        ctx = self.ctx
        assert ctx is not None
        if not row["enabled"]:
            self.request_stop("stop")
            return
        requested = row["restart_requested_at"]
        if (
            requested is not None
            and self._run_started_at is not None
            and requested > self._run_started_at
        ):
            self.request_stop("restart")
            return
        if row["config_version"] != ctx.config_version:
            fresh = await self.pool.fetchrow(sql.WORKER_CONFIG, self.worker.name)
            if fresh is None:
                return
            try:
                validate_config(self.worker.schema, fresh["config"])
                ctx._apply_config(fresh["config"], fresh["config_version"])
            except (InvalidConfig, TypeError) as exc:
                log.error(
                    "pqw: %s: new config refused (%s); keeping the old one", self.worker.name, exc
                )
                ctx.config_version = fresh["config_version"]
                return
            log.info(
                "pqw: persistent worker %s: config v%d delivered",
                self.worker.name,
                ctx.config_version,
            )
            if ctx.restart_on_config_change:
                self.request_stop("config")

    def _lease_ended(self, lease: asyncio.Task[None]) -> None:
        if lease.cancelled() or self._lease_lost:
            return
        error = lease.exception()
        self._lose_lease(f"the lease keeper stopped ({error!r})")

    def _lose_lease(self, why: str) -> None:
        self._lease_lost = True
        log.warning("pqw: persistent worker %s: %s; cancelling the handler", self.worker.name, why)
        if self.ctx is not None:
            self.ctx._request_stop("lease lost")
        self.cancel_handler()

    async def finish(
        self, *, state: str, reason: str, error: BaseException | None, duration: float
    ) -> None:
        """End the job and hand over to the next run, in one transaction."""
        name = self.worker.name
        entry = None
        metadata = {"end_reason": reason}
        if error is not None:
            message = f"{type(error).__name__}: {error}"
            entry = json_text.dumps(
                {
                    "attempt": self.job.attempt,
                    "at": datetime.now(UTC).isoformat(),
                    "error": message,
                    "trace": "".join(traceback.format_exception(error))[-8000:],
                }
            )
        crashed = reason == "crash"
        delay = MIN_RUN - duration if reason == "returned" and duration < MIN_RUN else 0.0
        restarted = reason in ("crash", "restart", "config", "returned", "cancel")

        async def end() -> int | None:
            """The run's end in one transaction; the failure count, or None if the lease was gone."""
            async with self.pool.acquire() as conn, conn.transaction():
                ended = await conn.fetchval(
                    sql.FINISH_RUN_JOB,
                    self.job.id,
                    self.job.attempt,
                    state,
                    entry,
                    json.dumps(metadata),
                )
                if ended is None:
                    return None
                row = await conn.fetchrow(
                    sql.FINISH_RUN_WORKER,
                    name,
                    crashed,
                    duration >= HEALTHY_RUN,
                    max(0.0, delay),
                    restarted,
                    f"{type(error).__name__}: {error}" if error is not None else None,
                )
                if row is None or not row["enabled"] or reason == "stop":
                    return 0
                # Hand over now: another client (or this one) picks the next run up at once.
                await conn.fetch(sql.INSERT_DUE_RUNS, name, NON_FINAL_MASK)
                return int(row["consecutive_failures"])

        failures = await self._within_lease(end)
        if failures is None:
            log.warning("pqw: persistent worker %s: run ended after its lease was lost", name)
            return
        if crashed:
            delay = crash_backoff(failures)
        log.info(
            "pqw: persistent worker %s: run ended (%s)%s",
            name,
            reason,
            f"; next in {delay:.0f}s" if delay >= 1 else "",
        )
