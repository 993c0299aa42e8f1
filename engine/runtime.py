"""A started client's machinery: producers, running jobs, completer, notifications,
heartbeats, and its part in leadership. `Client.start()` builds one; `stop()` ends it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from engine import sql
from engine.completer import Completer
from engine.db import create_pool, is_connection_error
from engine.dsn import describe_dsn
from engine.executor import RunningJob, StopReason, execute
from engine.leader import Elector
from engine.maintenance import Fence, LeaderServices, Maintenance
from engine.notifier import Notifier
from engine.periodic import PeriodicEnqueuer
from engine.persistent import NON_FINAL_MASK
from engine.producer import Producer
from engine.types import Job

if TYPE_CHECKING:
    from engine.client import Client

log = logging.getLogger("pqw.client")

VERSION = "0.1.0"

Runner = Callable[[RunningJob], Coroutine[Any, Any, None]]


class Runtime:
    """Everything that runs between a client's start and stop."""

    def __init__(self, client: Client, pool: asyncpg.Pool[Any], dsn: str) -> None:
        self.client = client
        self.pool = pool
        self.dsn = dsn
        self.stopping = False
        self.producers: dict[str, Producer] = {}
        self.running: dict[int, RunningJob] = {}
        self.runners: dict[str, Runner] = {}
        # Heartbeat timeouts of kinds not registered with `job` (persistent runs).
        self.extra_heartbeat_timeouts: dict[str, float] = {}
        self.completer = Completer(pool, client.id)
        self._tasks: list[asyncio.Task[Any]] = []
        self.producer_tasks: list[asyncio.Task[None]] = []
        self._timeouts_json = "{}"
        self.leader_pool: asyncpg.Pool[Any] | None = None
        self.elector: Elector | None = None
        self.elector_task: asyncio.Task[None] | None = None
        self.leader_services: LeaderServices | None = None
        self.notifier: Notifier | None = None

    # ------------------------------------------------------------------
    # Starting and stopping
    # ------------------------------------------------------------------

    def add_producer(
        self, queue: str, concurrency: int, fetch_kinds: Sequence[str] | None = None
    ) -> Producer:
        kinds = list(fetch_kinds) if fetch_kinds is not None else None

        async def fetch(name: str, limit: int) -> list[Job]:
            return await self._fetch(name, limit, kinds)

        producer = Producer(
            queue,
            concurrency,
            fetch=fetch,
            start_job=self._start_job,
            poll_interval=self.client.poll_interval,
        )
        self.producers[queue] = producer
        return producer

    def set_runner(self, kind: str, runner: Runner) -> None:
        """Run jobs of `kind` with a runner of their own (persistent workers use this)."""
        self.runners[kind] = runner

    async def start(self) -> None:
        client = self.client
        for name, concurrency in client.queues.items():
            self.add_producer(name, concurrency)
        client.persistent_manager.install(self)
        self._timeouts_json = self._heartbeat_timeouts()
        await self._register()
        await client.persistent_manager.sync_definitions()
        enqueuer = PeriodicEnqueuer(self.pool)
        for job in client.periodic_jobs:
            enqueuer.add(job)
        await enqueuer.sync_definitions()
        await self._start_leadership(enqueuer)
        self.notifier = Notifier(
            self.dsn,
            {
                sql.INSERT_CHANNEL: self._on_insert,
                sql.CONTROL_CHANNEL: self._on_control,
                sql.LEADER_CHANNEL: self._on_leader_message,
            },
            on_connect=self._on_notifier_connect,
            application_name=f"pqw {client.id}",
        )
        self._spawn(self.notifier.run(), "notifier")
        self._spawn(self.completer.run(), "completer")
        self._spawn(self._heartbeat_loop(), "heartbeat")
        for producer in self.producers.values():
            self.producer_tasks.append(self._spawn(producer.run(), f"producer:{producer.queue}"))
        assert self.elector is not None
        self.elector_task = self._spawn(self.elector.run(), "elector")
        try:
            async with asyncio.timeout(5.0):
                await self.notifier.connected.wait()
        except TimeoutError:
            log.warning("pqw: notifications not connected yet; polling meanwhile")
        queues = ", ".join(f"{q}={p.concurrency}" for q, p in self.producers.items()) or "none"
        persistent = client.persistent_manager.names
        log.info(
            "pqw: client %s started on %s; queues: %s; kinds: %s%s",
            client.id,
            describe_dsn(self.dsn),
            queues,
            ", ".join(sorted(client.kinds)) or "none",
            f"; persistent: {', '.join(persistent)}" if persistent else "",
        )

    async def _start_leadership(self, enqueuer: PeriodicEnqueuer) -> None:
        client = self.client
        config = client.maintenance_config
        # Leadership has a pool of its own: renewals never queue behind job
        # traffic, and a session that stalls inside a fenced transaction (a
        # frozen or partitioned leader holding the fence's share lock) is ended
        # by the server after one lease, so it can delay a takeover but never block it.
        self.leader_pool = await create_pool(
            self.dsn,
            min_size=1,
            max_size=2,
            server_settings={
                "application_name": f"pqw {client.id} leader",
                "idle_in_transaction_session_timeout": str(int(config.leader_ttl * 1000)),
            },
        )
        maintenance = Maintenance(config, client.heartbeat_timeout)
        services = LeaderServices(
            lambda: self.elector is not None and self.elector.is_leader,
            Fence(self.leader_pool, client.id),
            self._on_fence_lost,
        )
        services.add("scheduler", config.schedule_interval, maintenance.schedule)
        services.add("rescuer", config.rescue_interval, maintenance.rescue)
        services.add("supervisor", config.rescue_interval, self._supervise_persistent)
        services.add("periodic", config.schedule_interval, enqueuer.enqueue_due)
        services.add("cleaner", config.clean_interval, maintenance.clean)
        services.add("clients", config.clients_interval, maintenance.tend_clients)
        for name, interval, task in client.leader_tasks:
            services.add(name, interval, task)
        self.leader_services = services
        self.elector = Elector(
            self.leader_pool,
            client.id,
            ttl=config.leader_ttl,
            renew_interval=config.leader_renew_interval,
            on_elected=services.start,
            on_lost=services.stop,
        )

    async def _supervise_persistent(self, fence: Fence) -> None:
        """Keep one live run per enabled persistent worker (leader only)."""
        async with fence() as conn:
            await conn.fetch(sql.INSERT_DUE_RUNS, None, NON_FINAL_MASK)

    async def _register(self) -> None:
        client = self.client
        await self.pool.execute(
            sql.REGISTER_CLIENT,
            client.id,
            socket.gethostname(),
            os.getpid(),
            json.dumps({name: p.concurrency for name, p in self.producers.items()}),
            sorted(client.kinds),
            client.persistent_manager.names,
            VERSION,
        )

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"pqw:{name}")
        task.add_done_callback(self._service_done)
        self._tasks.append(task)
        return task

    @staticmethod
    def _service_done(task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("pqw: %s stopped with an error", task.get_name(), exc_info=exc)

    async def stop(self, cancel: bool, timeout: float) -> None:
        """Stop fetching, let running jobs finish (or cancel them), and record every outcome."""
        self.stopping = True
        client = self.client
        for producer in self.producers.values():
            producer.stop()
        # A fetch under way still starts what it fetched: wait for it, so every
        # running job (and persistent run) is known before we stop and wait for them.
        if self.producer_tasks:
            await asyncio.wait(self.producer_tasks, timeout=10.0)
        await client.persistent_manager.on_stop(cancel)
        if cancel:
            self.cancel_running()
        await self._wait_for_jobs(timeout)
        if self.running:
            log.warning(
                "pqw: %d job(s) still running after %.0fs; cancelling", len(self.running), timeout
            )
            self.cancel_running()
            await self._wait_for_jobs(5.0)
        try:
            async with asyncio.timeout(max(timeout, 5.0)):
                await self.completer.wait_idle()
        except TimeoutError:
            log.error(
                "pqw: %d finished job(s) could not be recorded before shutdown; "
                "they stay running until rescued",
                len(self.completer),
            )
        if self.leader_services is not None:
            await self.leader_services.wait_stopped()
        if self.elector_task is not None:
            # Stop campaigning first, or the elector would take back the lease we give up.
            self.elector_task.cancel()
            await asyncio.gather(self.elector_task, return_exceptions=True)
        if self.elector is not None:
            await self.elector.resign()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        try:
            await self.pool.execute(sql.STOP_CLIENT, client.id)
        except Exception as exc:
            log.warning("pqw: could not mark client %s stopped (%s)", client.id, exc)
        if self.leader_pool is not None:
            await self.leader_pool.close()
        log.info("pqw: client %s stopped", client.id)

    def cancel_running(self) -> None:
        for running in list(self.running.values()):
            running.stop(StopReason.SHUTDOWN)

    async def _wait_for_jobs(self, timeout: float) -> None:
        tasks = [r.task for r in self.running.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    @property
    def is_leader(self) -> bool:
        return self.elector is not None and self.elector.is_leader

    # ------------------------------------------------------------------
    # Fetching and executing
    # ------------------------------------------------------------------

    def _heartbeat_timeouts(self) -> str:
        kinds = self.client.kinds.values()
        timeouts = {k.kind: k.heartbeat_timeout for k in kinds if k.heartbeat_timeout}
        timeouts.update(self.extra_heartbeat_timeouts)
        return json.dumps(timeouts)

    async def _fetch(self, queue: str, limit: int, kinds: list[str] | None) -> list[Job]:
        if self.stopping:
            return []
        rows = await self.pool.fetch(
            sql.FETCH_JOBS,
            queue,
            limit,
            self.client.id,
            self._timeouts_json,
            self.client.heartbeat_timeout,
            kinds,
        )
        return [Job.from_record(r) for r in rows]

    def _start_job(self, job: Job, producer: Producer) -> None:
        running = RunningJob(job)
        self.running[job.id] = running
        producer.job_started()
        running.task = asyncio.create_task(self._work(running, producer), name=f"pqw:job:{job.id}")

    async def _work(self, running: RunningJob, producer: Producer) -> None:
        job = running.job
        client = self.client
        try:
            runner = self.runners.get(job.kind)
            if runner is not None:
                await runner(running)
                return
            outcome = await execute(
                job,
                client.kinds.get(job.kind),
                running,
                client.retry_backoff,
                lambda: list(client.kinds),
            )
            if outcome is not None:
                self.completer.add(outcome)
        except Exception:
            log.exception("pqw: job %d (%s) failed outside its handler", job.id, job.kind)
        finally:
            self.running.pop(job.id, None)
            producer.job_finished()

    # ------------------------------------------------------------------
    # Notifications and heartbeats
    # ------------------------------------------------------------------

    def _on_insert(self, queue: str) -> None:
        producer = self.producers.get(queue)
        if producer is not None:
            producer.wake()

    def _on_fence_lost(self) -> None:
        if self.elector is not None:
            self.elector.fence_lost()

    def _on_leader_message(self, _payload: str) -> None:
        # The leader resigned: try to take over now rather than at the next renewal.
        if self.elector is not None:
            self.elector.poke()

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
            running = self.running.get(message.get("job_id", -1))
            if running is not None:
                running.stop(StopReason.CANCEL_REQUESTED)
        elif action in ("resume", "pause"):
            producer = self.producers.get(message.get("queue", ""))
            if producer is not None:
                producer.wake()
        elif action == "worker":
            self.client.persistent_manager.on_control(message)

    def _on_notifier_connect(self) -> None:
        # Notifications sent while we were not listening are lost: look again.
        for producer in self.producers.values():
            producer.wake()
        for current in self.client.persistent_manager.runs.values():
            current.poke()

    async def _heartbeat_loop(self) -> None:
        """Heartbeat until cancelled; no error ends this loop (a dead loop would get
        every running job rescued from under a healthy client)."""
        failures = 0
        while True:
            await asyncio.sleep(self.client.job_heartbeat_interval)
            try:
                await self._heartbeat_once()
                if failures:
                    log.info("pqw: heartbeats restored")
                failures = 0
            except Exception as exc:
                failures += 1
                if failures == 1:
                    if is_connection_error(exc):
                        log.warning("pqw: heartbeat failed (%s); retrying", exc)
                    else:
                        log.exception("pqw: heartbeat failed; retrying")

    async def _heartbeat_once(self) -> None:
        if await self.pool.fetchval(sql.HEARTBEAT_CLIENT, self.client.id) is None:
            # Pruned while we could not reach the database: register again.
            await self._register()
        # Persistent runs hold their own, tighter lease (engine.persistent).
        held = {
            job_id: r.job.attempt
            for job_id, r in self.running.items()
            if r.job.kind not in self.runners
        }
        held.update(self.completer.outstanding)
        if not held:
            return
        rows = await self.pool.fetch(sql.HEARTBEAT_JOBS, list(held), list(held.values()))
        alive = {r["id"]: r["cancel_requested"] for r in rows}
        for job_id, running in list(self.running.items()):
            if job_id not in held or running.job.kind in self.runners:
                continue
            if job_id not in alive:
                log.warning("pqw: lost the lease on job %d; cancelling it here", job_id)
                running.stop(StopReason.LEASE_LOST)
            elif alive[job_id]:
                running.stop(StopReason.CANCEL_REQUESTED)
