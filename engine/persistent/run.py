"""One persistent run on this client: claim it, hold its lease, end it and hand over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from engine import sql
from engine.db.outage import is_connection_error
from engine.jobs.executor import RunningJob, StopReason
from engine.persistent.context import PersistentContext
from engine.persistent.desired import apply_desired_state
from engine.persistent.ending import RunEnd, end_run, record_lost_run
from engine.persistent.hooks import NO_HOOKS, PersistentRunEnd, PersistentRunInfo, RunHooks
from engine.persistent.options import PersistentWorker
from engine.persistent.run_log import RunLog, install_capture
from engine.persistent.state import claim_run, handler_context, started_line

log = logging.getLogger("pqw.persistent")

T = TypeVar("T")

# A cancelled handler that has not ended after this long ignores cancellation
# (it swallows CancelledError): a client shutting down gives up on it.
GIVE_UP_AFTER = 5.0
# The last lines of a run are written before it hands over, for at most this long.
LAST_LINES_WITHIN = 1.0


class PersistentRun:
    """One run on this client: claims it, holds its lease, ends it and hands over."""

    def __init__(
        self,
        worker: PersistentWorker,
        running: RunningJob,
        *,
        pool: asyncpg.Pool[Any],
        client_id: str,
        hooks: RunHooks = NO_HOOKS,
    ) -> None:
        self.worker = worker
        self.hooks = hooks
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
        self._lease_lost_why = ""
        self.log: RunLog | None = None
        self._run_started_at: datetime | None = None
        self._early_stop: str | None = None
        self._grace: asyncio.TimerHandle | None = None
        self._cancelled_at: float | None = None
        self._shutdown = False  # this client is stopping: a stubborn handler is given up on

    def poke(self) -> None:
        """Check the worker's desired state now (a control message arrived)."""
        self._poke.set()

    def request_stop(self, reason: str) -> None:
        if reason == "shutdown":
            self._shutdown = True
        if self.ctx is None:
            # Asked before the handler started (e.g. shutdown during the claim):
            # remember it, the handler is told the moment it exists.
            self._early_stop = self._early_stop or reason
            return
        self.ctx._request_stop(reason)
        if self._grace is None:
            # After stop_grace, a handler that has not returned is cancelled.
            loop = asyncio.get_running_loop()
            self._grace = loop.call_later(self.worker.stop_grace, self._grace_over)

    def _grace_over(self) -> None:
        if self._handler is None or self._handler.done():
            return
        log.warning(
            "pqw: persistent worker %s: the handler did not return within its stop_grace "
            "(%gs) of being asked to stop (%s); cancelling it",
            self.worker.name,
            self.worker.stop_grace,
            self.ctx.stop_reason if self.ctx is not None else "?",
        )
        self.cancel_handler()

    def end_grace(self) -> None:
        """The run is over: its grace timer (if any) has nothing left to cancel."""
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def cancel_handler(self) -> None:
        if self._handler is not None and not self._handler.done():
            if self._cancelled_at is None:
                self._cancelled_at = asyncio.get_running_loop().time()
            self._handler.cancel()

    async def execute(self) -> None:
        loop = asyncio.get_running_loop()
        claim = await self._within_lease(
            lambda: claim_run(self.pool, self.job, self.client_id, self.worker.name)
        )
        if claim is None:
            return  # the lease is gone already (or the worker row was deleted)
        self._run_started_at = claim.run_started_at
        started = loop.time()
        if not claim.enabled:
            await self.finish(RunEnd("cancelled", "stop", None, 0.0))
            return
        self.ctx = handler_context(
            self.worker,
            self.pool,
            self.job,
            claim,
            self.client_id,
            lease_lost=lambda: self._lease_lost,
            lose_lease=self._lose_lease,
        )
        interval, timeout = self.worker.heartbeat_interval, self.worker.heartbeat_timeout
        # The fetch set the first heartbeat: the lease is counted from there.
        self.ctx._on_lease_expired = lambda: self._lose_lease("the lease was not confirmed in time")
        self.ctx._extend_lease(self.running.started + timeout - interval)
        if self._early_stop is not None:
            self.request_stop(self._early_stop)
        # A loop that keeps ending logs once per back-off step (as it ends), not twice.
        log.log(
            logging.DEBUG if claim.consecutive_failures else logging.INFO,
            "pqw: persistent worker %s: run started (job %d)",
            self.worker.name,
            self.job.id,
        )
        run_log = self.log = self.ctx._log = RunLog(self.worker.name, claim.runs)
        run_log.add(logging.INFO, "pqw", started_line(claim, self.client_id))
        install_capture()
        run_log.start_writing(self.pool)
        info = PersistentRunInfo(self.worker.name, self.job.id, claim.runs, claim.config_version)
        self.hooks.run_started(info)
        # The handler's task tree logs into the run's log (see run_log).
        self._handler = asyncio.create_task(
            self.worker.fn(self.ctx),
            name=f"pqw:persistent:{self.worker.name}",
            context=run_log.context(),
        )
        lease = asyncio.create_task(self._hold_lease(), name=f"pqw:lease:{self.worker.name}")
        # Without its lease keeper the handler must not go on, whatever ended it.
        lease.add_done_callback(self._lease_ended)
        error: BaseException | None = None
        ended = False
        try:
            ended = await self._wait_for_handler()
            if ended and not self._handler.cancelled():
                error = self._handler.exception()
        except BaseException:
            run_log.stop_writing()
            raise
        finally:
            self.ctx._end_lease()
            lease.cancel()
            await asyncio.gather(lease, return_exceptions=True)
        duration = loop.time() - started
        if not ended:
            await self._last_lines(run_log, "given up on (it ignores cancellation)")
            # Given up on (said in the log): the rescuer takes the run back.
            self.hooks.run_ended(info, PersistentRunEnd.cut_off("given up", duration))
            return
        if self._lease_lost:
            log.warning("pqw: persistent worker %s: run ended, lease lost", self.worker.name)
            await self._last_lines(run_log, f"lease lost: {self._lease_lost_why}")
            await record_lost_run(self.pool, self.job, self._lease_lost_why, LAST_LINES_WITHIN)
            self.hooks.run_ended(info, PersistentRunEnd.cut_off("lease lost", duration))
            return
        reason = self.ctx.stop_reason
        if reason in ("stop", "cancel"):
            end = RunEnd("cancelled", reason, None, duration)
        elif error is not None and reason is None:
            end = RunEnd("discarded", "crash", error, duration)
        else:
            end = RunEnd("completed", reason or "returned", None, duration)
        await self._last_lines(run_log, end.describe())
        written = await self.finish(end)
        self.hooks.run_ended(
            info,
            PersistentRunEnd.of(end)
            if written
            else PersistentRunEnd.cut_off("lease lost", duration),
        )

    async def _last_lines(self, run_log: RunLog, how: str) -> None:
        """Say how the run ended in its log, and write what is left of it."""
        run_log.add(logging.INFO, "pqw", f"run {run_log.run} ended: {how}")
        if self.ctx is not None:
            self.ctx._checkpoints = None  # the run is over: nothing more is stored
        await run_log.close(self.pool, LAST_LINES_WITHIN)

    async def _wait_for_handler(self) -> bool:
        """Wait for the handler to end; False once this client, shutting down, has given up
        on a handler that ignores cancellation (so the process can still exit).

        Not shutting down, a handler that ignores cancellation keeps its run, and
        its lease, until it returns: giving up on it would start a second copy.
        """
        handler, ctx = self._handler, self.ctx
        assert handler is not None and ctx is not None
        loop = asyncio.get_running_loop()
        warned = False
        while not handler.done():
            try:
                await asyncio.wait({handler}, timeout=1.0)
            except asyncio.CancelledError:
                if self.running.stop_reason is None:
                    raise  # not ours: let the loop's cancellation through
                # This client is shutting down hard, or an operator cancelled this
                # run's job: end the handler now.
                hard = self.running.stop_reason is StopReason.SHUTDOWN
                self._shutdown = self._shutdown or hard
                ctx._request_stop("shutdown" if hard else "cancel")
                self.cancel_handler()
                continue
            cancelled_at = self._cancelled_at
            if handler.done() or cancelled_at is None:
                continue
            waited = loop.time() - cancelled_at
            if waited < GIVE_UP_AFTER:
                continue
            if self._shutdown:
                log.error(
                    "pqw: persistent worker %s: the handler ignored cancellation for %.0fs "
                    "(it swallows CancelledError); giving up on it so this client can stop: "
                    "its run is left to the rescuer, which restarts it within %gs",
                    self.worker.name,
                    waited,
                    self.worker.heartbeat_timeout,
                )
                return False
            if not warned:
                warned = True
                log.error(
                    "pqw: persistent worker %s: the handler ignores cancellation (it swallows "
                    "CancelledError); its run goes on until it returns",
                    self.worker.name,
                )
        return True

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
                async with asyncio.timeout(interval):  # not wait_for: see Elector.run
                    row = await self.pool.fetchrow(
                        sql.HEARTBEAT_RUN, self.job.id, self.job.attempt, self.worker.name, progress
                    )
            except Exception as exc:
                self.ctx._keep_progress(progress)
                # The lease may already be another client's by the time it would
                # expire: stop one interval before that, so two runs never overlap
                # by more than one heartbeat interval even across a partition.
                if loop.time() >= last_confirmed + self.worker.heartbeat_timeout - interval:
                    self._lose_lease(f"cannot confirm the lease ({exc or type(exc).__name__})")
                    return
                continue
            if row is None:
                self._lose_lease("the lease was taken over")
                return
            last_confirmed = sent
            # Counted from when the heartbeat was sent, not answered: a reply that
            # sat in a socket while this process was paused confirms nothing newer.
            self.ctx._extend_lease(sent + self.worker.heartbeat_timeout - interval)
            try:
                await apply_desired_state(
                    row,
                    ctx=self.ctx,
                    worker=self.worker,
                    pool=self.pool,
                    run_started_at=self._run_started_at,
                    request_stop=self.request_stop,
                )
            except Exception:
                # The lease holds; the change is looked at again next heartbeat.
                log.exception("pqw: %s: applying a change failed", self.worker.name)

    def _lease_ended(self, lease: asyncio.Task[None]) -> None:
        if lease.cancelled() or self._lease_lost:
            return
        error = lease.exception()
        self._lose_lease(f"the lease keeper stopped ({error!r})")

    def _lose_lease(self, why: str) -> None:
        if self._lease_lost:
            return
        self._lease_lost = True
        self._lease_lost_why = why
        log.warning("pqw: persistent worker %s: %s; cancelling the handler", self.worker.name, why)
        if self.ctx is not None:
            self.ctx._request_stop("lease lost")
        self.cancel_handler()

    async def finish(self, end: RunEnd) -> bool:
        """End the job and hand over to the next run, in one transaction; False if the
        lease was gone by then."""
        return await end_run(self.pool, self.worker, self.job, end, self._within_lease)
