"""Client: registers job kinds, inserts jobs, and (once started) works the queues it was given."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

import asyncpg

from engine import migrate, sql
from engine.completer import Completer
from engine.db import Conn, create_pool, is_connection_error
from engine.dsn import configured_dsn, describe_dsn, resolve_dsn
from engine.errors import DuplicateKind, InvalidJobOption, InvalidSchedule
from engine.executor import JobKind, RunningJob, StopReason, execute
from engine.insert_params import (
    RowTemplate,
    build_params,
    template_for,
    validate_kind,
    validate_queue,
)
from engine.inserter import insert_rows
from engine.leader import Elector
from engine.maintenance import Fence, LeaderServices, Maintenance, MaintenanceConfig
from engine.notifier import Notifier
from engine.periodic import PeriodicEnqueuer, PeriodicJob, Schedule
from engine.persistent import NON_FINAL_MASK, PersistentHandler, PersistentManager
from engine.producer import Producer
from engine.retry import RetryBackoff, default_backoff
from engine.types import InsertOpts, InsertResult, Job, UniqueOpts

log = logging.getLogger("pqw.client")

P = ParamSpec("P")
R = TypeVar("R")

VERSION = "0.1.0"


@dataclass(frozen=True)
class JobSpec:
    """One job for insert_many."""

    kind: str
    args: Mapping[str, Any]
    opts: InsertOpts | None = None


class JobHandler(Generic[P, R]):
    """A registered handler: still callable as the function, plus `enqueue`."""

    def __init__(self, client: Client, kind: str, fn: Callable[P, R]) -> None:
        self.client = client
        self.kind = kind
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", kind)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    async def enqueue(
        self,
        args: Mapping[str, Any] | None = None,
        *,
        conn: asyncpg.Connection[Any] | None = None,
        **opts: Any,
    ) -> InsertResult:
        return await self.client.insert(self.kind, args or {}, conn=conn, **opts)


def default_client_id() -> str:
    host = socket.gethostname().split(".")[0] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(2)}"


class Client:
    """A pqw client. Insert-only until `start()`; then it also works its queues."""

    def __init__(
        self,
        dsn: str | None = None,
        queues: Mapping[str, int] | None = None,
        *,
        id: str | None = None,
        retry_backoff: RetryBackoff | None = None,
        poll_interval: float = 1.0,
        job_heartbeat_interval: float = 2.0,
        heartbeat_timeout: float = 30.0,
        stop_timeout: float = 30.0,
        auto_migrate: bool | None = None,
        maintenance: MaintenanceConfig | None = None,
    ) -> None:
        self._dsn_option = dsn
        self.queues: dict[str, int] = {}
        self.id = id or default_client_id()
        self.retry_backoff = retry_backoff or default_backoff
        self.poll_interval = poll_interval
        self.job_heartbeat_interval = job_heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.stop_timeout = stop_timeout
        self._auto_migrate = auto_migrate
        self.kinds: dict[str, JobKind] = {}
        self.dsn: str | None = None
        self._pool: asyncpg.Pool[Any] | None = None
        self._pool_lock = asyncio.Lock()
        self._started = False
        self._stopping = False
        self._producers: dict[str, Producer] = {}
        self._running: dict[int, RunningJob] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._completer: Completer | None = None
        self._notifier: Notifier | None = None
        self._custom_runners: dict[str, Callable[[RunningJob], Coroutine[Any, Any, None]]] = {}
        # Names of the persistent workers this client can run (engine.persistent fills it).
        self.persistent_names: list[str] = []
        # Heartbeat timeouts of kinds not registered with `job` (persistent runs).
        self.extra_heartbeat_timeouts: dict[str, float] = {}
        self.maintenance_config = maintenance or MaintenanceConfig()
        self._persistent = PersistentManager(self)
        self._periodic: list[PeriodicJob] = []
        self._enqueuer: PeriodicEnqueuer | None = None
        self._elector: Elector | None = None
        self._leader_services: LeaderServices | None = None
        self._leader_tasks: list[tuple[str, float, Callable[[Fence], Awaitable[None]]]] = []
        self._leader_pool: asyncpg.Pool[Any] | None = None
        self.configure(queues=queues)

    # ------------------------------------------------------------------
    # Registering job kinds
    # ------------------------------------------------------------------

    def job(
        self,
        kind: str,
        *,
        queue: str | None = None,
        max_attempts: int | None = None,
        priority: int | None = None,
        timeout: float | None = None,
        unique: UniqueOpts | None = None,
        tags: Sequence[str] | None = None,
        retry_backoff: RetryBackoff | None = None,
        heartbeat_timeout: float | None = None,
    ) -> Callable[[Callable[P, R]], JobHandler[P, R]]:
        """Decorator registering a handler (async or sync) for a job kind, with its defaults."""

        def register(fn: Callable[P, R]) -> JobHandler[P, R]:
            self.register(
                kind,
                fn,  # type: ignore[arg-type]
                opts=InsertOpts(
                    queue=queue,
                    max_attempts=max_attempts,
                    priority=priority,
                    unique=unique,
                    tags=tags,
                ),
                timeout=timeout,
                retry_backoff=retry_backoff,
                heartbeat_timeout=heartbeat_timeout,
            )
            return JobHandler(self, kind, fn)

        return register

    def register(
        self,
        kind: str,
        fn: Callable[[Job], Any],
        *,
        opts: InsertOpts | None = None,
        timeout: float | None = None,
        retry_backoff: RetryBackoff | None = None,
        heartbeat_timeout: float | None = None,
    ) -> None:
        validate_kind(kind)
        if kind in self.kinds:
            raise DuplicateKind(f"job kind {kind!r} is already registered on this client")
        if timeout is not None and timeout <= 0:
            raise InvalidJobOption(f"{kind}: timeout must be positive seconds, got {timeout}")
        if heartbeat_timeout is not None and heartbeat_timeout <= 0:
            raise InvalidJobOption(
                f"{kind}: heartbeat_timeout must be positive, got {heartbeat_timeout}"
            )
        opts = opts or InsertOpts()
        # Validate the kind's defaults now, not at its first insert.
        build_params(kind, {}, opts)
        self.kinds[kind] = JobKind(
            kind=kind,
            fn=fn,
            opts=opts,
            timeout=timeout,
            retry_backoff=retry_backoff,
            heartbeat_timeout=heartbeat_timeout,
        )

    def persistent(
        self,
        name: str,
        *,
        config: Any = None,
        config_type: Any = None,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 5.0,
        queue: str = "persistent",
        restart_on_config_change: bool = True,
        stop_grace: float = 5.0,
        enabled: bool = True,
    ) -> Callable[[PersistentHandler], PersistentHandler]:
        """Decorator defining a persistent worker: one copy of the loop, always running somewhere.

        `config` is the default for a new worker (the database row wins once it
        exists); `config_type` (a dataclass or TypedDict) types and validates it.
        """

        def define(fn: PersistentHandler) -> PersistentHandler:
            self._persistent.define(
                name,
                fn,
                config=config,
                config_type=config_type,
                heartbeat_interval=heartbeat_interval,
                heartbeat_timeout=heartbeat_timeout,
                queue=queue,
                restart_on_config_change=restart_on_config_change,
                stop_grace=stop_grace,
                enabled=enabled,
            )
            return fn

        return define

    def periodic(
        self,
        kind: str,
        schedule: Schedule,
        *,
        args: Mapping[str, Any] | None = None,
        id: str | None = None,
        run_on_start: bool = False,
        opts: InsertOpts | None = None,
        **overrides: Any,
    ) -> None:
        """Insert a job of `kind` on a durable schedule (every(...) or cron(...))."""
        if not hasattr(schedule, "next_after"):
            raise InvalidSchedule("schedule must be every(...) or cron(...)")
        job = PeriodicJob(
            id=id or kind,
            kind=validate_kind(kind),
            schedule=schedule,
            args=dict(args or {}),
            opts=self._opts_for(kind, opts, overrides),
            run_on_start=run_on_start,
        )
        if any(p.id == job.id for p in self._periodic):
            raise InvalidSchedule(f"periodic job id {job.id!r} is defined twice")
        template_for(job.kind, job.opts).row(job.args)
        self._periodic.append(job)

    def configure(self, *, dsn: str | None = None, queues: Mapping[str, int] | None = None) -> None:
        """Override the database or add queues before start (the `pqw worker` options)."""
        if self._started or self._pool is not None:
            raise RuntimeError("configure() must come before the client connects")
        if dsn:
            self._dsn_option = dsn
        for name, concurrency in (queues or {}).items():
            validate_queue(name)
            if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
                raise InvalidJobOption(
                    f"queue {name!r}: concurrency must be a positive int, got {concurrency!r}"
                )
            self.queues[name] = concurrency

    def cancel_running(self) -> None:
        """Cancel every running handler (their jobs become retryable at once)."""
        for running in list(self._running.values()):
            running.stop(StopReason.SHUTDOWN)

    # ------------------------------------------------------------------
    # Connecting
    # ------------------------------------------------------------------

    async def _ensure_pool(self) -> asyncpg.Pool[Any]:
        if self._pool is not None:
            return self._pool
        async with self._pool_lock:
            if self._pool is not None:
                return self._pool
            embedded = configured_dsn(self._dsn_option) is None
            dsn = await asyncio.to_thread(resolve_dsn, self._dsn_option)
            size = max(4, len(self.queues) + 4)
            # Operators (and crash tests) find a client's sessions in pg_stat_activity by name.
            pool = await create_pool(
                dsn,
                min_size=1,
                max_size=size,
                server_settings={"application_name": f"pqw {self.id}"},
            )
            try:
                async with pool.acquire() as conn:
                    migrate_now = embedded if self._auto_migrate is None else self._auto_migrate
                    if migrate_now:
                        await migrate.migrate_up(conn)
                    else:
                        await migrate.check_schema(conn)
            except BaseException:
                await pool.close()
                raise
            self.dsn = dsn
            self._pool = pool
            return pool

    async def connect(self) -> None:
        """Open the pool (and check the schema) without starting any work; inserts do this too."""
        await self._ensure_pool()

    @property
    def pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            raise RuntimeError("the client is not connected yet: await client.start() first")
        return self._pool

    # ------------------------------------------------------------------
    # Inserting
    # ------------------------------------------------------------------

    def _opts_for(
        self, kind: str, opts: InsertOpts | None, overrides: dict[str, Any]
    ) -> InsertOpts:
        registered = self.kinds.get(kind)
        base = registered.opts if registered else InsertOpts()
        unknown = set(overrides) - set(InsertOpts.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown insert option(s): {', '.join(sorted(unknown))}")
        return base.merged_with(opts).merged_with(InsertOpts(**overrides))

    async def insert(
        self,
        kind: str,
        args: Mapping[str, Any] | None = None,
        *,
        conn: asyncpg.Connection[Any] | None = None,
        opts: InsertOpts | None = None,
        **overrides: Any,
    ) -> InsertResult:
        """Insert one job (in the caller's transaction when `conn` is given)."""
        template = template_for(kind, self._opts_for(kind, opts, overrides))
        params = template.row({} if args is None else args)
        executor = conn if conn is not None else await self._ensure_pool()
        (result,) = await insert_rows(executor, [params])
        return result

    async def insert_many(
        self,
        jobs: Sequence[JobSpec | tuple[Any, ...]],
        *,
        conn: asyncpg.Connection[Any] | None = None,
    ) -> Sequence[InsertResult]:
        """Insert many jobs in one round trip; each result says whether it was a duplicate.

        Every job is validated before anything is written.
        """
        templates: dict[tuple[str, int], RowTemplate] = {}
        params = []
        for item in jobs:
            if isinstance(item, JobSpec):
                kind, args, opts = item.kind, item.args, item.opts
            else:
                kind, args, *rest = item
                opts = rest[0] if rest else None
            key = (kind, id(opts))
            template = templates.get(key)
            if template is None:
                template = template_for(kind, self._opts_for(kind, opts, {}))
                templates[key] = template
            params.append(template.row(args))
        if conn is not None:
            return await insert_rows(conn, params)
        return await insert_rows(await self._ensure_pool(), params, own_pool=True)

    # ------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def add_producer(
        self,
        queue: str,
        concurrency: int,
        fetch_kinds: Sequence[str] | None = None,
    ) -> Producer:
        kinds = list(fetch_kinds) if fetch_kinds is not None else None

        async def fetch(name: str, limit: int) -> list[Job]:
            return await self._fetch(name, limit, kinds)

        producer = Producer(
            queue,
            concurrency,
            fetch=fetch,
            start_job=self._start_job,
            poll_interval=self.poll_interval,
        )
        self._producers[queue] = producer
        return producer

    async def start(self) -> None:
        """Connect, register this client, and start working the queues."""
        if self._started:
            return
        pool = await self._ensure_pool()
        assert self.dsn is not None
        self._stopping = False
        for name, concurrency in self.queues.items():
            self.add_producer(name, concurrency)
        self._persistent.install()
        await self._register(pool)
        await self._persistent.sync_definitions()
        self._enqueuer = PeriodicEnqueuer(pool)
        for job in self._periodic:
            self._enqueuer.add(job)
        await self._enqueuer.sync_definitions()

        config = self.maintenance_config
        # Leadership has a pool of its own: renewals never queue behind job
        # traffic, and a session that stalls inside a fenced transaction (a
        # frozen or partitioned leader holding the fence's share lock) is ended
        # by the server after one lease, so it can delay a takeover but never block it.
        self._leader_pool = await create_pool(
            self.dsn,
            min_size=1,
            max_size=2,
            server_settings={
                "application_name": f"pqw {self.id} leader",
                "idle_in_transaction_session_timeout": str(int(config.leader_ttl * 1000)),
            },
        )
        maintenance = Maintenance(config, self.heartbeat_timeout)
        services = LeaderServices(
            lambda: self._elector is not None and self._elector.is_leader,
            Fence(self._leader_pool, self.id),
            self._on_fence_lost,
        )
        services.add("scheduler", config.schedule_interval, maintenance.schedule)
        services.add("rescuer", config.rescue_interval, maintenance.rescue)
        services.add("supervisor", config.rescue_interval, self._supervise_persistent)
        services.add("periodic", config.schedule_interval, self._enqueuer.enqueue_due)
        services.add("cleaner", config.clean_interval, maintenance.clean)
        services.add("clients", config.clients_interval, maintenance.tend_clients)
        for name, interval, task in self._leader_tasks:
            services.add(name, interval, task)
        self._leader_services = services
        self._elector = Elector(
            self._leader_pool,
            self.id,
            ttl=config.leader_ttl,
            renew_interval=config.leader_renew_interval,
            on_elected=services.start,
            on_lost=services.stop,
        )

        self._completer = Completer(pool, self.id)
        self._notifier = Notifier(
            self.dsn,
            {
                sql.INSERT_CHANNEL: self._on_insert,
                sql.CONTROL_CHANNEL: self._on_control,
                sql.LEADER_CHANNEL: self._on_leader_message,
            },
            on_connect=self._on_notifier_connect,
            application_name=f"pqw {self.id}",
        )
        self._spawn(self._notifier.run(), "notifier")
        self._spawn(self._completer.run(), "completer")
        self._spawn(self._heartbeat_loop(), "heartbeat")
        for producer in self._producers.values():
            self._spawn(producer.run(), f"producer:{producer.queue}")
        self._spawn(self._elector.run(), "elector")
        self._started = True
        try:
            async with asyncio.timeout(5.0):
                await self._notifier.connected.wait()
        except TimeoutError:
            log.warning("pqw: notifications not connected yet; polling meanwhile")
        queues = ", ".join(f"{q}={p.concurrency}" for q, p in self._producers.items()) or "none"
        log.info(
            "pqw: client %s started on %s; queues: %s; kinds: %s%s",
            self.id,
            describe_dsn(self.dsn),
            queues,
            ", ".join(sorted(self.kinds)) or "none",
            f"; persistent: {', '.join(self.persistent_names)}" if self.persistent_names else "",
        )

    @property
    def is_leader(self) -> bool:
        return self._elector is not None and self._elector.is_leader

    async def _supervise_persistent(self, fence: Fence) -> None:
        """Keep one live run per enabled persistent worker (leader only)."""
        async with fence() as conn:
            await conn.fetch(sql.INSERT_DUE_RUNS, None, NON_FINAL_MASK)

    def leader_task(
        self, name: str, interval: float
    ) -> Callable[[Callable[[Conn], Awaitable[None]]], Callable[[Conn], Awaitable[None]]]:
        """Decorator: run `fn(conn)` every `interval` seconds on the leader only.

        `conn` is in a fenced transaction: it commits only if this client still
        held the lease, and no other client can be elected until it does.
        """

        def register(fn: Callable[[Conn], Awaitable[None]]) -> Callable[[Conn], Awaitable[None]]:
            async def fenced(fence: Fence) -> None:
                async with fence() as conn:
                    await fn(conn)

            self._leader_tasks.append((name, interval, fenced))
            return fn

        return register

    async def _register(self, pool: asyncpg.Pool[Any]) -> None:
        await pool.execute(
            sql.REGISTER_CLIENT,
            self.id,
            socket.gethostname(),
            os.getpid(),
            json.dumps({name: p.concurrency for name, p in self._producers.items()}),
            sorted(self.kinds),
            sorted(self.persistent_names),
            VERSION,
        )

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"pqw:{name}")
        task.add_done_callback(self._service_done)
        self._tasks.append(task)
        return task

    def _service_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("pqw: %s stopped with an error", task.get_name(), exc_info=exc)

    async def stop(self, cancel: bool = False, timeout: float | None = None) -> None:
        """Stop fetching, let running jobs finish (or cancel them), and record every outcome."""
        if not self._started or self._stopping:
            return
        self._stopping = True
        timeout = self.stop_timeout if timeout is None else timeout
        for producer in self._producers.values():
            producer.stop()
        await self._persistent.on_stop(cancel)
        if cancel:
            for running in list(self._running.values()):
                running.stop(StopReason.SHUTDOWN)
        await self._wait_for_jobs(timeout)
        if self._running:
            log.warning(
                "pqw: %d job(s) still running after %.0fs; cancelling", len(self._running), timeout
            )
            for running in list(self._running.values()):
                running.stop(StopReason.SHUTDOWN)
            await self._wait_for_jobs(5.0)
        if self._completer is not None:
            try:
                async with asyncio.timeout(max(timeout, 5.0)):
                    await self._completer.wait_idle()
            except TimeoutError:
                log.error(
                    "pqw: %d finished job(s) could not be recorded before shutdown; "
                    "they stay running until rescued",
                    len(self._completer),
                )
        if self._leader_services is not None:
            await self._leader_services.wait_stopped()
        if self._elector is not None:
            await self._elector.resign()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        try:
            await self.pool.execute(sql.STOP_CLIENT, self.id)
        except Exception as exc:
            log.warning("pqw: could not mark client %s stopped (%s)", self.id, exc)
        self._producers.clear()
        self._started = False
        await self.close()
        log.info("pqw: client %s stopped", self.id)

    async def close(self) -> None:
        """Close the connection pools (stop() does this after a start)."""
        if self._leader_pool is not None:
            leader_pool, self._leader_pool = self._leader_pool, None
            await leader_pool.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _wait_for_jobs(self, timeout: float) -> None:
        tasks = [r.task for r in self._running.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    @property
    def running_jobs(self) -> dict[int, Job]:
        return {job_id: r.job for job_id, r in self._running.items()}

    # ------------------------------------------------------------------
    # Fetching and executing
    # ------------------------------------------------------------------

    def _heartbeat_timeouts(self) -> str:
        timeouts = {k.kind: k.heartbeat_timeout for k in self.kinds.values() if k.heartbeat_timeout}
        timeouts.update(self.extra_heartbeat_timeouts)
        return json.dumps(timeouts)

    async def _fetch(self, queue: str, limit: int, kinds: list[str] | None) -> list[Job]:
        if self._stopping:
            return []
        rows = await self.pool.fetch(
            sql.FETCH_JOBS,
            queue,
            limit,
            self.id,
            self._timeouts_json,
            self.heartbeat_timeout,
            kinds,
        )
        return [Job.from_record(r) for r in rows]

    @property
    def _timeouts_json(self) -> str:
        cached: str | None = getattr(self, "_timeouts_cache", None)
        if cached is None:
            cached = self._heartbeat_timeouts()
            self._timeouts_cache = cached
        return cached

    def _start_job(self, job: Job, producer: Producer) -> None:
        running = RunningJob(job)
        self._running[job.id] = running
        producer.job_started()
        running.task = asyncio.create_task(self._work(running, producer), name=f"pqw:job:{job.id}")

    async def _work(self, running: RunningJob, producer: Producer) -> None:
        job = running.job
        try:
            runner = self._custom_runners.get(job.kind)
            if runner is not None:
                await runner(running)
                return
            outcome = await execute(
                job,
                self.kinds.get(job.kind),
                running,
                self.retry_backoff,
                lambda: list(self.kinds),
            )
            if outcome is not None and self._completer is not None:
                self._completer.add(outcome)
        except Exception:
            log.exception("pqw: job %d (%s) failed outside its handler", job.id, job.kind)
        finally:
            self._running.pop(job.id, None)
            producer.job_finished()

    def set_runner(
        self, kind: str, runner: Callable[[RunningJob], Coroutine[Any, Any, None]]
    ) -> None:
        """Run jobs of `kind` with a runner of their own (persistent workers use this)."""
        self._custom_runners[kind] = runner

    # ------------------------------------------------------------------
    # Notifications and heartbeats
    # ------------------------------------------------------------------

    def _on_insert(self, queue: str) -> None:
        producer = self._producers.get(queue)
        if producer is not None:
            producer.wake()

    def _on_fence_lost(self) -> None:
        if self._elector is not None:
            self._elector.fence_lost()

    def _on_leader_message(self, _payload: str) -> None:
        # The leader resigned: try to take over now rather than at the next renewal.
        if self._elector is not None:
            self._elector.poke()

    def _on_control(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("pqw: ignoring a malformed control message: %r", payload[:200])
            return
        if not isinstance(message, dict):
            return
        action = message.get("action")
        if action == "cancel":
            running = self._running.get(message.get("job_id", -1))
            if running is not None:
                running.stop(StopReason.CANCEL_REQUESTED)
        elif action in ("resume", "pause"):
            producer = self._producers.get(message.get("queue", ""))
            if producer is not None:
                producer.wake()
        elif action == "worker":
            self._persistent.on_control(message)

    def _on_notifier_connect(self) -> None:
        # Notifications sent while we were not listening are lost: look again.
        for producer in self._producers.values():
            producer.wake()
        for current in self._persistent.runs.values():
            current.poke()

    async def _heartbeat_loop(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self.job_heartbeat_interval)
            try:
                await self._heartbeat_once()
                if failures:
                    log.info("pqw: heartbeats restored")
                failures = 0
            except Exception as exc:
                if not is_connection_error(exc) and not isinstance(exc, asyncpg.PostgresError):
                    raise
                failures += 1
                if failures == 1:
                    log.warning("pqw: heartbeat failed (%s); retrying", exc)

    async def _heartbeat_once(self) -> None:
        pool = self.pool
        if await pool.fetchval(sql.HEARTBEAT_CLIENT, self.id) is None:
            # Pruned while we could not reach the database: register again.
            await self._register(pool)
        # Persistent runs hold their own, tighter lease (engine.persistent).
        held = {
            job_id: r.job.attempt
            for job_id, r in self._running.items()
            if r.job.kind not in self._custom_runners
        }
        if self._completer is not None:
            held.update(self._completer.outstanding)
        if not held:
            return
        rows = await pool.fetch(sql.HEARTBEAT_JOBS, list(held), list(held.values()))
        alive = {r["id"]: r["cancel_requested"] for r in rows}
        for job_id, running in list(self._running.items()):
            if job_id not in held or running.job.kind in self._custom_runners:
                continue
            if job_id not in alive:
                log.warning("pqw: lost the lease on job %d; cancelling it here", job_id)
                running.stop(StopReason.LEASE_LOST)
            elif alive[job_id]:
                running.stop(StopReason.CANCEL_REQUESTED)
