"""A started client's job machinery: producers, running jobs, the completer, notifications
and heartbeats. It knows jobs only: persistent runs plug in as runners for their
kinds, and whatever else listens (leadership, persistent control) registers a
handler. `engine.node.Node` builds one at `Client.start()` and ends it at `stop()`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from engine import sql
from engine.jobs.completer import Completer
from engine.jobs.executor import RunningJob, StopReason, execute
from engine.jobs.heartbeat import JobHeartbeat
from engine.jobs.held import HeldConnection
from engine.jobs.kinds import JobKind
from engine.jobs.notifier import Notifier, listen_or_poll
from engine.jobs.producer import Producer
from engine.jobs.retry import RetryBackoff
from engine.jobs.work_middleware import WorkHook, execute_through
from engine.types import Job
from engine.version import VERSION

log = logging.getLogger("pqw.client")

# Runs a job of one kind its own way (persistent runs), instead of the executor.
Runner = Callable[[RunningJob], Coroutine[Any, Any, None]]
ControlHandler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class RuntimeSettings:
    """What a started client was given: who it is, what it runs, how often it checks in."""

    client_id: str
    kinds: Mapping[str, JobKind]
    retry_backoff: RetryBackoff
    poll_interval: float
    job_heartbeat_interval: float
    heartbeat_timeout: float
    persistent_names: Sequence[str] = ()
    # Around every attempt of a job, the first outermost (persistent runs excepted).
    work_middleware: Sequence[WorkHook] = ()


class Runtime:
    """Everything that works jobs between a client's start and stop."""

    def __init__(
        self, pool: asyncpg.Pool[Any], listen_dsn: str | None, settings: RuntimeSettings
    ) -> None:
        self.pool = pool
        # Where notifications are listened for; None behind a transaction pooler with no
        # direct URL: then everything is found by polling.
        self.listen_dsn = listen_dsn
        self.settings = settings
        self.stopping = False
        self.producers: dict[str, Producer] = {}
        self.running: dict[int, RunningJob] = {}
        self.completer = Completer(pool, settings.client_id)
        self.notifier: Notifier | None = None
        self._runners: dict[str, Runner] = {}
        # Heartbeat timeouts of kinds with a runner of their own (persistent runs).
        self._runner_timeouts: dict[str, float] = {}
        self._channels: dict[str, Callable[[str], None]] = {
            sql.INSERT_CHANNEL: self._on_insert,
            sql.CONTROL_CHANNEL: self._on_control,
        }
        self._control: dict[str, ControlHandler] = {}
        self._reconnected: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._producer_tasks: list[asyncio.Task[None]] = []
        self._timeouts_json = "{}"

    # -- Wiring, before start --

    def add_producer(
        self, queue: str, concurrency: int, fetch_kinds: Sequence[str] | None = None
    ) -> Producer:
        """Work `queue` with `concurrency` slots; `fetch_kinds` limits the kinds it takes."""
        kinds = list(fetch_kinds) if fetch_kinds is not None else None
        # Kept across back-to-back fetches: no pool reset between them (engine.jobs.held).
        held = HeldConnection(self.pool)

        async def fetch(name: str, limit: int) -> list[Job]:
            return await self._fetch(held, name, limit, kinds)

        producer = Producer(
            queue,
            concurrency,
            fetch=fetch,
            start_job=self._start_job,
            poll_interval=self.settings.poll_interval,
            release=held.release,
        )
        self.producers[queue] = producer
        return producer

    def set_runner(self, kind: str, runner: Runner, heartbeat_timeout: float) -> None:
        """Run jobs of `kind` with a runner of its own, which holds its own lease."""
        self._runners[kind] = runner
        self._runner_timeouts[kind] = heartbeat_timeout

    def on_channel(self, channel: str, handler: Callable[[str], None]) -> None:
        """Call handler(payload) for every notification on `channel`."""
        self._channels[channel] = handler

    def on_control(self, action: str, handler: ControlHandler) -> None:
        """Call handler(message) for every control message with this action."""
        self._control[action] = handler

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Call back whenever notifications connect (again): some may have been missed."""
        self._reconnected.append(callback)

    # -- Starting and stopping --

    async def register(self) -> None:
        """Write (or revive) this client's row in pqw_client."""
        # An operator's live concurrency holds from the first fetch on (and the row says so).
        rows = await self.pool.fetch(sql.QUEUE_LIMITS)
        self._apply_limits({r["name"]: r["concurrency"] for r in rows})
        s = self.settings
        await self.pool.execute(
            sql.REGISTER_CLIENT,
            s.client_id,
            socket.gethostname(),
            os.getpid(),
            self._queues_json(),
            sorted(s.kinds),
            list(s.persistent_names),
            VERSION,
        )

    async def start(self) -> None:
        """Start listening, recording, heartbeating and fetching."""
        self._timeouts_json = self._heartbeat_timeouts()
        self.notifier = listen_or_poll(
            self.listen_dsn,
            self._channels,
            on_connect=self._on_notifier_connect,
            client_id=self.settings.client_id,
            poll_interval=self.settings.poll_interval,
        )
        if self.notifier is not None:
            self.spawn(self.notifier.run(), "notifier")
        self.spawn(self.completer.run(), "completer")
        heartbeat = JobHeartbeat(
            self.pool,
            self.settings.client_id,
            self.running,
            # Jobs with a runner of their own hold their own, tighter lease.
            own_lease=lambda kind: kind in self._runners,
            outstanding=lambda: self.completer.outstanding,
            register=self.register,
            queues=self._queues_json,
            limits_seen=self._apply_limits,
        )
        self.spawn(heartbeat.run(self.settings.job_heartbeat_interval), "heartbeat")
        for producer in self.producers.values():
            self._producer_tasks.append(self.spawn(producer.run(), f"producer:{producer.queue}"))
        if self.notifier is not None:
            await self.notifier.wait_connected(5.0)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A background task ended (cancelled) by close(); an error in it is logged."""
        task = asyncio.create_task(coro, name=f"pqw:{name}")
        task.add_done_callback(_service_done)
        self._tasks.append(task)
        return task

    async def stop_fetching(self) -> None:
        """Stop every producer and wait for fetches under way: what they fetched still
        starts, so afterwards every running job (and persistent run) is known."""
        self.stopping = True
        for producer in self.producers.values():
            producer.stop()
        # Handlers that watch `job.stopping` end now instead of at stop_timeout.
        for running in self.running.values():
            running.ask_to_stop("shutdown")
        if self._producer_tasks:
            await asyncio.wait(self._producer_tasks, timeout=10.0)

    async def finish_jobs(self, cancel: bool, timeout: float) -> None:
        """Let running jobs finish (or cancel them), then record every outcome."""
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

    async def close(self) -> None:
        """End every background task and mark this client stopped."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        try:
            await self.pool.execute(sql.STOP_CLIENT, self.settings.client_id)
        except Exception as exc:
            log.warning("pqw: could not mark client %s stopped (%s)", self.settings.client_id, exc)

    def cancel_running(self) -> None:
        for running in list(self.running.values()):
            running.stop(StopReason.SHUTDOWN)

    async def _wait_for_jobs(self, timeout: float) -> None:
        tasks = [r.task for r in self.running.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def _queues_json(self) -> str:
        """The slots in effect per queue, as this client's row shows them."""
        return json.dumps({name: p.concurrency for name, p in self.producers.items()})

    def _apply_limits(self, limits: Mapping[str, int]) -> None:
        """Work each queue with the concurrency an operator set (else the code's)."""
        for name, producer in self.producers.items():
            producer.set_limit(limits.get(name))

    # -- Fetching and executing --

    def _heartbeat_timeouts(self) -> str:
        kinds = self.settings.kinds.values()
        timeouts = {k.kind: k.heartbeat_timeout for k in kinds if k.heartbeat_timeout}
        timeouts.update(self._runner_timeouts)
        return json.dumps(timeouts)

    async def _fetch(
        self, held: HeldConnection, queue: str, limit: int, kinds: list[str] | None
    ) -> list[Job]:
        if self.stopping:
            return []
        statement, by_parameter = sql.fetch_jobs(limit)
        rows = await held.fetch(
            statement,
            queue,
            self.settings.client_id,
            self._timeouts_json,
            self.settings.heartbeat_timeout,
            kinds,
            *by_parameter,
        )
        return [Job.from_record(r) for r in rows]

    def _start_job(self, job: Job, producer: Producer) -> None:
        running = RunningJob(job)
        if self.stopping:
            running.ask_to_stop("shutdown")  # fetched while the stop began
        self.running[job.id] = running
        producer.job_started()
        running.task = asyncio.create_task(self._work(running, producer), name=f"pqw:job:{job.id}")

    async def _work(self, running: RunningJob, producer: Producer) -> None:
        job = running.job
        kinds = self.settings.kinds
        outcome = None
        try:
            runner = self._runners.get(job.kind)
            if runner is not None:
                await runner(running)
                return
            kind, backoff = kinds.get(job.kind), self.settings.retry_backoff
            hooks = self.settings.work_middleware
            if hooks:
                outcome = await execute_through(
                    hooks, job, kind, running, backoff, lambda: list(kinds)
                )
            else:
                outcome = await execute(job, kind, running, backoff, lambda: list(kinds))
        except Exception:
            log.exception("pqw: job %d (%s) failed outside its handler", job.id, job.kind)
        finally:
            self.running.pop(job.id, None)
            if outcome is not None:
                # Counted until written: when writes stall, fetching stops (see Producer).
                producer.job_finished(unwritten=True)
                self.completer.add(outcome, producer.outcome_written)
            else:
                producer.job_finished()

    # -- Notifications and heartbeats --

    def _on_insert(self, queue: str) -> None:
        producer = self.producers.get(queue)
        if producer is not None:
            producer.wake()

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
        elif action == "concurrency":
            producer = self.producers.get(message.get("queue", ""))
            limit = message.get("concurrency")
            if producer is not None and (limit is None or type(limit) is int):
                producer.set_limit(limit)
        elif isinstance(action, str) and action in self._control:
            self._control[action](message)

    def _on_notifier_connect(self) -> None:
        # Notifications sent while we were not listening are lost: look again.
        for producer in self.producers.values():
            producer.wake()
        for callback in self._reconnected:
            callback()


def _service_done(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("pqw: %s stopped with an error", task.get_name(), exc_info=exc)
