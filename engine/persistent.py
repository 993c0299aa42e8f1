"""Persistent workers: one copy of a loop, always running somewhere in the cluster.

Each run is one job (kind `pqw.persistent:<name>`) that is unique while live, so
at most one run exists at a time. The running attempt holds a lease: it
heartbeats (job id, attempt) every heartbeat_interval, and the moment a
heartbeat updates no row — or cannot be confirmed in time — the handler is
cancelled. The rescuer ends runs whose heartbeat went stale, and the leader's
supervisor (or the run itself, as it ends) inserts the next run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack

import asyncpg

from engine import sql
from engine.config_schema import config_schema, typed_config, validate_config
from engine.db import is_connection_error, json_dumps
from engine.errors import DuplicateKind, InvalidConfig, InvalidJobOption
from engine.executor import RunningJob, StopReason
from engine.insert_params import validate_queue
from engine.unique import NON_FINAL_STATES, persistent_kind, states_to_mask

if TYPE_CHECKING:
    from engine.client import Client
    from engine.runtime import Runtime

log = logging.getLogger("pqw.persistent")

T = TypeVar("T")

NON_FINAL_MASK = states_to_mask(NON_FINAL_STATES)
MAX_BACKOFF = 60.0
# A run that lasted this long before crashing counts as healthy: backoff restarts at 1 s.
HEALTHY_RUN = 60.0
# A run that returns by itself faster than this waits a moment before the next,
# so a handler that returns at once does not spin.
MIN_RUN = 1.0

PersistentHandler = Callable[["PersistentContext"], Coroutine[Any, Any, None]]


def crash_backoff(consecutive_failures: int) -> float:
    """1 s, 2 s, 4 s, ... up to 60 s."""
    if consecutive_failures <= 0:
        return 0.0
    return float(min(MAX_BACKOFF, 2 ** (consecutive_failures - 1)))


class PersistentOptions(TypedDict, total=False):
    """How a persistent worker is defined (all optional; defaults in brackets).

    config: the default config for a new worker [{}]; the database row wins once it exists.
    config_type: a dataclass or TypedDict that types and validates the config [None].
    heartbeat_interval: seconds between lease heartbeats [1.0].
    heartbeat_timeout: seconds without one before the run is taken back [5.0].
    queue: the queue its runs go through, not one of the client's job queues ["persistent"].
    restart_on_config_change: end the run and start anew when the config changes [True].
    stop_grace: seconds a stopping handler gets before it is cancelled [5.0].
    enabled: whether a new worker starts enabled [True].
    """

    config: Any
    config_type: Any
    heartbeat_interval: float
    heartbeat_timeout: float
    queue: str
    restart_on_config_change: bool
    stop_grace: float
    enabled: bool


@dataclass(frozen=True)
class PersistentWorker:
    """A persistent worker as defined in code: its defaults."""

    name: str
    fn: PersistentHandler
    config: dict[str, Any]
    config_type: Any
    heartbeat_interval: float
    heartbeat_timeout: float
    queue: str
    restart_on_config_change: bool
    stop_grace: float
    enabled: bool

    @property
    def kind(self) -> str:
        return persistent_kind(self.name)

    @property
    def schema(self) -> dict[str, Any] | None:
        return config_schema(self.config_type) if self.config_type is not None else None


class PersistentContext:
    """What a running handler gets: live config, stop signal, progress reporting."""

    def __init__(
        self,
        worker: PersistentWorker,
        run: int,
        job_id: int,
        config: dict[str, Any],
        config_version: int,
    ) -> None:
        self.name = worker.name
        self.run = run
        self.job_id = job_id
        self.restart_on_config_change = worker.restart_on_config_change
        self._config_type = worker.config_type
        self.config_version = config_version
        self.config: Any = typed_config(worker.config_type, config)
        self.config_changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._interrupt = asyncio.Event()
        self.stop_reason: str | None = None
        self._progress: str | None = None

    @property
    def stopping(self) -> bool:
        """True once the run should end: stop, restart, new config, shutdown or lost lease."""
        return self._stop.is_set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early when the run is asked to stop or the config changes."""
        if self.stopping:
            return
        interrupt = self._interrupt
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await interrupt.wait()
        except TimeoutError:
            pass

    def progress(self, data: dict[str, Any]) -> None:
        """Report a small status dict; the dashboard shows it (sent with the next heartbeat)."""
        try:
            self._progress = json_dumps(dict(data))
        except (TypeError, ValueError) as exc:
            raise InvalidConfig(f"progress must be a JSON-serializable dict: {exc}") from exc

    def _take_progress(self) -> str | None:
        progress, self._progress = self._progress, None
        return progress

    def _keep_progress(self, progress: str | None) -> None:
        """A heartbeat carrying progress failed: send it with the next, unless newer came."""
        if self._progress is None:
            self._progress = progress

    def _wake_sleepers(self) -> None:
        self._interrupt.set()
        self._interrupt = asyncio.Event()

    def _request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()
        self._wake_sleepers()

    def _apply_config(self, config: dict[str, Any], version: int) -> None:
        self.config = typed_config(self._config_type, config)
        self.config_version = version
        self.config_changed.set()
        self._wake_sleepers()


class PersistentRun:
    """One run on this client: claims it, holds its lease, ends it and hands over."""

    def __init__(self, manager: PersistentManager, worker: PersistentWorker, running: RunningJob):
        self.manager = manager
        self.worker = worker
        self.running = running
        self.job = running.job
        self.ctx: PersistentContext | None = None
        self._poke = asyncio.Event()
        self._handler: asyncio.Task[None] | None = None
        self._lease_lost = False
        self._run_started_at: datetime | None = None
        self._early_stop: str | None = None

    @property
    def pool(self) -> asyncpg.Pool[Any]:
        # The started client's pool, which outlives every run (the client's own
        # handle is dropped as soon as stop() is done).
        assert self.manager.runtime is not None
        return self.manager.runtime.pool

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
        self.manager.schedule_grace(self)

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
                self.manager.client.id,
                self.worker.name,
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
            self.worker, claim["runs"], self.job.id, config, claim["config_version"]
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
            entry = json_dumps(
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


class PersistentManager:
    """The persistent workers a client defines, and the runs it holds."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.workers: dict[str, PersistentWorker] = {}
        self.runs: dict[str, PersistentRun] = {}
        self.runtime: Runtime | None = None
        self._grace: dict[str, asyncio.TimerHandle] = {}

    def define(
        self, name: str, fn: PersistentHandler, **options: Unpack[PersistentOptions]
    ) -> PersistentWorker:
        config: Any = options.get("config")
        config_type: Any = options.get("config_type")
        heartbeat_interval = options.get("heartbeat_interval", 1.0)
        heartbeat_timeout = options.get("heartbeat_timeout", 5.0)
        queue = options.get("queue", "persistent")
        stop_grace = options.get("stop_grace", 5.0)
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise InvalidJobOption(
                f"persistent worker name must be 1 to 100 characters, got {name!r}"
            )
        if name in self.workers:
            raise DuplicateKind(f"persistent worker {name!r} is already defined on this client")
        if not (
            inspect.iscoroutinefunction(fn)
            or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004
        ):
            raise TypeError(f"persistent worker {name!r}: the handler must be an async function")
        validate_queue(queue)
        if queue in self.client.queues:
            raise InvalidJobOption(
                f"queue {queue!r} is a job queue of this client; persistent workers need their own"
            )
        if heartbeat_interval <= 0 or heartbeat_timeout <= heartbeat_interval:
            raise InvalidJobOption(
                f"persistent worker {name!r}: need 0 < heartbeat_interval < heartbeat_timeout, "
                f"got {heartbeat_interval} and {heartbeat_timeout}"
            )
        if stop_grace < 0:
            raise InvalidJobOption(f"persistent worker {name!r}: stop_grace must be >= 0")
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = dataclasses.asdict(config)
        if config_type is not None:
            config_schema(config_type)  # unsupported field types fail here
        worker = PersistentWorker(
            name=name,
            fn=fn,
            config=dict(config or {}),
            config_type=config_type,
            heartbeat_interval=float(heartbeat_interval),
            heartbeat_timeout=float(heartbeat_timeout),
            queue=queue,
            restart_on_config_change=options.get("restart_on_config_change", True),
            stop_grace=float(stop_grace),
            enabled=options.get("enabled", True),
        )
        validate_config(worker.schema, worker.config)
        self.workers[name] = worker
        return worker

    # -- wiring into the client ------------------------------------------------

    @property
    def names(self) -> list[str]:
        return sorted(self.workers)

    def install(self, runtime: Runtime) -> None:
        """Give the started client a producer per persistent queue and a runner per worker."""
        self.runtime = runtime
        by_queue: dict[str, list[PersistentWorker]] = {}
        for worker in self.workers.values():
            by_queue.setdefault(worker.queue, []).append(worker)
            runtime.set_runner(worker.kind, self._runner_for(worker))
            runtime.extra_heartbeat_timeouts[worker.kind] = worker.heartbeat_timeout
        for queue, workers in by_queue.items():
            # One slot per worker: a client can run all of its workers at once.
            runtime.add_producer(queue, len(workers), fetch_kinds=[w.kind for w in workers])

    async def sync_definitions(self) -> None:
        """Write code defaults (never over an operator's change) and start due runs."""
        pool = self.client.pool
        for worker in self.workers.values():
            schema = worker.schema
            await pool.execute(
                sql.UPSERT_PERSISTENT_WORKER,
                worker.name,
                worker.enabled,
                json_dumps(worker.config),
                json_dumps(schema) if schema is not None else None,
                worker.queue,
                worker.heartbeat_interval,
                worker.heartbeat_timeout,
            )
            await pool.fetch(sql.INSERT_DUE_RUNS, worker.name, NON_FINAL_MASK)

    def _runner_for(
        self, worker: PersistentWorker
    ) -> Callable[[RunningJob], Coroutine[Any, Any, None]]:
        async def run(running: RunningJob) -> None:
            current = PersistentRun(self, worker, running)
            self.runs[worker.name] = current
            try:
                await current.execute()
            finally:
                if self.runs.get(worker.name) is current:
                    del self.runs[worker.name]
                timer = self._grace.pop(worker.name, None)
                if timer is not None:
                    timer.cancel()

        return run

    def on_control(self, message: dict[str, Any]) -> None:
        if message.get("action") != "worker":
            return
        current = self.runs.get(str(message.get("name")))
        if current is not None:
            current.poke()

    def schedule_grace(self, current: PersistentRun) -> None:
        """After stop_grace, a handler that has not returned is cancelled."""
        name = current.worker.name
        if name in self._grace:
            return
        loop = asyncio.get_running_loop()
        self._grace[name] = loop.call_later(current.worker.stop_grace, current.cancel_handler)

    async def on_stop(self, cancel: bool) -> None:
        for current in list(self.runs.values()):
            current.request_stop("shutdown")
            if cancel:
                current.cancel_handler()


__all__ = [
    "PersistentContext",
    "PersistentManager",
    "PersistentWorker",
    "StopReason",
    "crash_backoff",
]
