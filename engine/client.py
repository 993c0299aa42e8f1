"""Client: registers job kinds, inserts jobs, and (once started) works the queues it was given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, Unpack

import asyncpg

from engine.client_options import client_timing, default_client_id
from engine.db.dsn import Database
from engine.db.open import ClientPool
from engine.db.pool import Conn
from engine.hooks.middleware import Middleware, Middlewares
from engine.jobs.checks import validate_concurrency
from engine.jobs.insert_params import InsertParams, batch_params, explicit_opts, template_for
from engine.jobs.insert_recorder import recorded
from engine.jobs.kinds import JobHandler, JobKind, define_kind
from engine.jobs.retry import RetryBackoff, checked_backoff, default_backoff
from engine.leadership.fence import Fence
from engine.maintenance.config import MaintenanceConfig
from engine.maintenance.periodic_row import define_periodic
from engine.node import Node
from engine.persistent.manager import PersistentManager
from engine.persistent.options import PersistentHandler, PersistentOptions
from engine.schedules import PeriodicJob, Schedule
from engine.types import InsertOpts, InsertResult, Job, JobSpec, UniqueOpts

P = ParamSpec("P")
R = TypeVar("R")


class Client:
    """A pqw client. Insert-only until `start()`; then it also works its queues."""

    def __init__(
        self,
        dsn: str | None = None,
        queues: Mapping[str, int] | None = None,
        *,
        direct_dsn: str | None = None,
        pool_mode: str | None = None,
        id: str | None = None,
        retry_backoff: RetryBackoff | None = None,
        poll_interval: float = 1.0,
        job_heartbeat_interval: float = 2.0,
        heartbeat_timeout: float = 30.0,
        stop_timeout: float = 30.0,
        auto_migrate: bool | None = None,
        maintenance: MaintenanceConfig | None = None,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self._connection = ClientPool(
            dsn, direct_dsn=direct_dsn, pool_mode=pool_mode, auto_migrate=auto_migrate
        )
        self.queues: dict[str, int] = {}
        self.id = id or default_client_id()
        self.retry_backoff = checked_backoff(retry_backoff, "retry_backoff") or default_backoff
        (
            self.poll_interval,
            self.job_heartbeat_interval,
            self.heartbeat_timeout,
            self.stop_timeout,
        ) = client_timing(poll_interval, job_heartbeat_interval, heartbeat_timeout, stop_timeout)
        self.kinds: dict[str, JobKind] = {}
        self.maintenance_config = maintenance or MaintenanceConfig()
        self.persistent_manager = PersistentManager()
        self.periodic_jobs: list[PeriodicJob] = []
        self.leader_tasks: list[tuple[str, float, Callable[[Fence], Awaitable[None]]]] = []
        self._node: Node | None = None
        self.middlewares = Middlewares(middleware)
        self.configure(queues=queues)

    def middleware(self, *middleware: Middleware) -> None:
        """Add middleware, inside those added before (see engine/hooks); before start()."""
        if self._node is not None:
            raise RuntimeError("middleware must be added before the client starts")
        self.middlewares.add(middleware)

    # -- Registering job kinds --

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
            return JobHandler(self.insert, kind, fn, definition=self.kinds[kind], owner=self)

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
        self.kinds[kind] = define_kind(
            kind,
            fn,
            registered=self.kinds,
            opts=opts,
            timeout=timeout,
            retry_backoff=retry_backoff,
            heartbeat_timeout=heartbeat_timeout,
            heartbeat_interval=self.job_heartbeat_interval,
        )

    def persistent(
        self, name: str, **options: Unpack[PersistentOptions]
    ) -> Callable[[PersistentHandler], PersistentHandler]:
        """Decorator defining a persistent worker: one copy of the loop, always running somewhere.

        Options (see PersistentOptions): config, config_type, heartbeat_interval,
        heartbeat_timeout, queue, restart_on_config_change, stop_grace, enabled.
        """

        def define(fn: PersistentHandler) -> PersistentHandler:
            self.persistent_manager.define(name, fn, job_queues=self.queues, **options)
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
        """Insert a job of `kind` on a durable schedule (every(...) or cron(...)).

        Options (and the kind's defaults from `@client.job`, merged in at start)
        hold for every run. With unique options, a run whose insert meets a live
        duplicate is skipped (the schedule moves on and says so); without them,
        each scheduled time inserts exactly one job.
        """
        own = explicit_opts(opts, overrides)
        job = define_periodic(
            kind,
            schedule,
            args=args,
            id=id,
            run_on_start=run_on_start,
            opts=own,
            defined=[p.id for p in self.periodic_jobs],
        )
        self.periodic_jobs.append(job)

    def configure(
        self,
        *,
        dsn: str | None = None,
        direct_dsn: str | None = None,
        pool_mode: str | None = None,
        queues: Mapping[str, int] | None = None,
    ) -> None:
        """Override the database URLs or add queues before start (the `pqw worker` options)."""
        self._connection.configure(dsn=dsn, direct_dsn=direct_dsn, pool_mode=pool_mode)
        for name, concurrency in (queues or {}).items():
            validate_concurrency(name, concurrency)
            self.persistent_manager.check_job_queue(name)
            self.queues[name] = concurrency

    def cancel_running(self) -> None:
        """Cancel every running handler (their jobs become retryable at once)."""
        if self._node is not None:
            self._node.runtime.cancel_running()

    # -- Connecting --

    async def _ensure_pool(self) -> asyncpg.Pool[Any]:
        return await self._connection.ensure(
            # Operators (and crash tests) find a client's sessions in pg_stat_activity by name.
            application_name=f"pqw {self.id}",
            max_size=len(self.queues) + 5,  # held by producers and completer, and 4 more
        )

    @property
    def database(self) -> Database | None:
        """The database once connected (main URL, direct URL, pool mode)."""
        return self._connection.database

    @property
    def dsn(self) -> str | None:
        """The main URL once connected, marked with its pool mode."""
        return self._connection.database.url if self._connection.database else None

    async def connect(self) -> None:
        """Open the pool (and check the schema) without starting any work; inserts do this too."""
        await self._ensure_pool()

    @property
    def pool(self) -> asyncpg.Pool[Any]:
        if self._connection.pool is None:
            raise RuntimeError("the client is not connected yet: await client.start() first")
        return self._connection.pool

    # -- Inserting --

    def _opts_for(
        self, kind: str, opts: InsertOpts | None, overrides: dict[str, Any]
    ) -> InsertOpts:
        registered = self.kinds.get(kind)
        base = registered.opts if registered else InsertOpts()
        return base.merged_with(explicit_opts(opts, overrides))

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
        (result,) = await recorded([params], lambda rows: self._write(rows, conn))
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
        params = batch_params(jobs, lambda kind, opts: self._opts_for(kind, opts, {}))
        return await recorded(params, lambda rows: self._write(rows, conn))

    async def _write(self, rows: Sequence[InsertParams], conn: Any) -> Sequence[InsertResult]:
        if conn is not None:
            return await self.middlewares.write(conn, rows)
        pool = await self._ensure_pool()
        return await self.middlewares.write(pool, rows, own_pool=True, dsn=self.dsn)

    # -- Running --

    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect, register this client, and start working its queues and workers."""
        if self._node is not None:
            return
        pool = await self._ensure_pool()
        assert self.database is not None
        node = Node(self, pool, self.database)
        self._node = node
        try:
            await node.start()
        except BaseException:
            self._node = None
            await node.stop(cancel=True, timeout=0)
            raise

    async def stop(self, cancel: bool = False, timeout: float | None = None) -> None:
        """Stop fetching, let running jobs finish (or cancel them), and record every outcome."""
        node = self._node
        if node is None or node.stopping:
            return
        await node.stop(cancel, self.stop_timeout if timeout is None else timeout)
        self._node = None
        await self.close()

    async def close(self, timeout: float = 10.0) -> None:
        """Close the connection pool (stop() does this after a start); connections still
        in use after `timeout` (a handler that would not end) are cut."""
        await self._connection.close(timeout)

    @property
    def is_leader(self) -> bool:
        return self._node is not None and self._node.is_leader

    @property
    def running_jobs(self) -> dict[int, Job]:
        """The jobs this client is running now, by id."""
        if self._node is None:
            return {}
        return {job_id: r.job for job_id, r in self._node.runtime.running.items()}

    @property
    def completed_count(self) -> int:
        """Finished attempts this client has written to the database since it started."""
        return self._node.runtime.completer.flushed if self._node is not None else 0

    def leader_task(
        self, name: str, interval: float
    ) -> Callable[[Callable[[Conn], Awaitable[None]]], Callable[[Conn], Awaitable[None]]]:
        """Decorator: run `fn(conn)` every `interval` seconds on the leader only.

        `conn` is in a fenced transaction, bounded by the server (a lease long): it
        commits only if this client still holds the lease as it commits, so what a
        former leader did after another client was elected always rolls back.
        """

        def register(fn: Callable[[Conn], Awaitable[None]]) -> Callable[[Conn], Awaitable[None]]:
            async def fenced(fence: Fence) -> None:
                async with fence() as conn:
                    await fn(conn)

            self.leader_tasks.append((name, interval, fenced))
            return fn

        return register
