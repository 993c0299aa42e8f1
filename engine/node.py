"""A started client as a node of the cluster: its job runtime, its persistent runs, its
part in leadership and, while it leads, the maintenance crew. `Client.start()`
builds one; `Client.stop()` takes it down in the order that loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

import asyncpg

from engine import sql
from engine.db.dsn import Database
from engine.hooks.middleware import Middlewares
from engine.jobs.kinds import JobKind
from engine.jobs.retry import RetryBackoff
from engine.jobs.runtime import Runtime, RuntimeSettings
from engine.leadership.elector import Elector
from engine.leadership.fence import Fence
from engine.leadership.pool import LeaderSessions, open_leader_sessions
from engine.maintenance.cleaner import clean
from engine.maintenance.clients import tend_clients
from engine.maintenance.config import MaintenanceConfig
from engine.maintenance.counts import fold_job_counts
from engine.maintenance.periodic import PeriodicEnqueuer
from engine.maintenance.periodic_row import with_kind_defaults
from engine.maintenance.rescuer import rescue_stale_jobs
from engine.maintenance.scheduler import schedule_due_jobs
from engine.maintenance.services import CREW_STATEMENTS, LeaderServices
from engine.maintenance.supervisor import supervise_persistent
from engine.persistent.manager import PersistentManager
from engine.schedules import PeriodicJob

log = logging.getLogger("pqw.client")


class NodeDefinition(Protocol):
    """What a node is started from: a Client's definitions (a Protocol, so this room
    need not know the Client that sits above it)."""

    @property
    def id(self) -> str: ...

    @property
    def queues(self) -> Mapping[str, int]: ...

    @property
    def kinds(self) -> Mapping[str, JobKind]: ...

    @property
    def retry_backoff(self) -> RetryBackoff: ...

    @property
    def poll_interval(self) -> float: ...

    @property
    def job_heartbeat_interval(self) -> float: ...

    @property
    def heartbeat_timeout(self) -> float: ...

    @property
    def maintenance_config(self) -> MaintenanceConfig: ...

    @property
    def persistent_manager(self) -> PersistentManager: ...

    @property
    def periodic_jobs(self) -> Sequence[PeriodicJob]: ...

    @property
    def middlewares(self) -> Middlewares: ...

    @property
    def leader_tasks(self) -> Sequence[tuple[str, float, Callable[[Fence], Awaitable[None]]]]: ...


class Node:
    """Everything that runs between a client's start and stop."""

    def __init__(self, client: NodeDefinition, pool: asyncpg.Pool[Any], database: Database) -> None:
        self.client = client
        self.pool = pool
        self.database = database
        self.dsn = database.url
        self.runtime = Runtime(
            pool,
            database.session_url,
            RuntimeSettings(
                client_id=client.id,
                kinds=client.kinds,
                retry_backoff=client.retry_backoff,
                poll_interval=client.poll_interval,
                job_heartbeat_interval=client.job_heartbeat_interval,
                heartbeat_timeout=client.heartbeat_timeout,
                persistent_names=client.persistent_manager.names,
                work_middleware=client.middlewares.work,
            ),
        )
        self.leader_sessions: LeaderSessions | None = None
        self.elector: Elector | None = None
        self.leader_services: LeaderServices | None = None
        self._elector_task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self.runtime.stopping

    @property
    def is_leader(self) -> bool:
        return self.elector is not None and self.elector.is_leader

    async def start(self) -> None:
        client, runtime = self.client, self.runtime
        for name, concurrency in client.queues.items():
            runtime.add_producer(name, concurrency)
        client.persistent_manager.install(runtime, client.id, client.middlewares.run_hooks)
        await runtime.register()
        await client.persistent_manager.sync_definitions(self.pool)
        enqueuer = PeriodicEnqueuer(self.pool)
        for job in client.periodic_jobs:
            kind = client.kinds.get(job.kind)
            enqueuer.add(with_kind_defaults(job, kind.opts if kind else None))
        await enqueuer.sync_definitions()
        self.elector = await self._start_leadership(enqueuer)
        elector = self.elector
        runtime.on_channel(sql.LEADER_CHANNEL, lambda _payload: elector.poke())
        await runtime.start()
        self._elector_task = runtime.spawn(elector.run(), "elector")
        queues = ", ".join(f"{q}={p.concurrency}" for q, p in runtime.producers.items()) or "none"
        persistent = client.persistent_manager.names
        log.info(
            "pqw: client %s started on %s; queues: %s; kinds: %s%s",
            client.id,
            self.database.describe(),
            queues,
            ", ".join(sorted(client.kinds)) or "none",
            f"; persistent: {', '.join(persistent)}" if persistent else "",
        )

    async def _start_leadership(self, enqueuer: PeriodicEnqueuer) -> Elector:
        client = self.client
        config = client.maintenance_config
        sessions = await open_leader_sessions(
            self.dsn,
            client.id,
            config.leader_ttl,
            use_transaction_timeout=config.leader_transaction_timeout,
            statements=CREW_STATEMENTS,
        )
        self.leader_sessions = sessions
        batch = config.batch_size
        services = LeaderServices(
            lambda: self.elector is not None and self.elector.is_leader,
            Fence(sessions.passes, client.id, sessions.bounds),
            lambda: self.elector.fence_lost() if self.elector is not None else None,
        )
        services.add(
            "scheduler", config.schedule_interval, partial(schedule_due_jobs, batch_size=batch)
        )
        services.add(
            "rescuer",
            config.rescue_interval,
            partial(
                rescue_stale_jobs,
                batch_size=batch,
                default_heartbeat_timeout=client.heartbeat_timeout,
            ),
        )
        services.add("supervisor", config.rescue_interval, supervise_persistent)
        services.add("periodic", config.schedule_interval, enqueuer.enqueue_due)
        services.add("cleaner", config.clean_interval, partial(clean, config=config))
        services.add("counter", config.count_interval, fold_job_counts)
        services.add("clients", config.clients_interval, partial(tend_clients, config=config))
        for name, interval, task in client.leader_tasks:
            services.add(name, interval, task)
        self.leader_services = services
        return Elector(
            sessions.elector,
            client.id,
            ttl=config.leader_ttl,
            renew_interval=config.leader_renew_interval,
            on_elected=services.start,
            on_lost=services.stop,
        )

    async def stop(self, cancel: bool, timeout: float) -> None:
        """Stop fetching, let running jobs finish (or cancel them), record every outcome,
        give up the lease, and mark this client stopped."""
        runtime = self.runtime
        await runtime.stop_fetching()
        await self.client.persistent_manager.on_stop(cancel)
        await runtime.finish_jobs(cancel, timeout)
        if self.leader_services is not None:
            await self.leader_services.wait_stopped()
        if self._elector_task is not None:
            # Stop campaigning first, or the elector would take back the lease we give up.
            self._elector_task.cancel()
            await asyncio.gather(self._elector_task, return_exceptions=True)
        if self.elector is not None:
            await self.elector.resign()
        await runtime.close()
        if self.leader_sessions is not None:
            await self.leader_sessions.close()
        log.info("pqw: client %s stopped", self.client.id)
