"""The persistent workers a client defines, wired into its runtime, and the runs it holds."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, Unpack

import asyncpg

from engine import sql
from engine.db import json_text
from engine.db.outage import is_connection_error
from engine.errors import InvalidJobOption
from engine.jobs.executor import RunningJob
from engine.jobs.runtime import Runner, Runtime
from engine.jobs.unique import NON_FINAL_MASK
from engine.persistent.hooks import NO_HOOKS, RunHooks
from engine.persistent.options import (
    PersistentHandler,
    PersistentOptions,
    PersistentWorker,
    define_worker,
)
from engine.persistent.run import PersistentRun

log = logging.getLogger("pqw.persistent")


class PersistentManager:
    """Definitions from code; once installed, a runner per worker and the runs under way."""

    def __init__(self) -> None:
        self.workers: dict[str, PersistentWorker] = {}
        self.runs: dict[str, PersistentRun] = {}
        self.hooks = NO_HOOKS

    def define(
        self,
        name: str,
        fn: PersistentHandler,
        *,
        job_queues: Collection[str],
        **options: Unpack[PersistentOptions],
    ) -> PersistentWorker:
        worker = define_worker(name, fn, options, defined=self.workers, job_queues=job_queues)
        self.workers[name] = worker
        return worker

    def check_job_queue(self, queue: str) -> None:
        """InvalidJobOption when `queue` carries persistent runs here: a job queue of the same
        name would take the place of the runs' producer, and the runs would not start."""
        workers = sorted(w.name for w in self.workers.values() if w.queue == queue)
        if workers:
            raise InvalidJobOption(
                f"queue {queue!r} carries the runs of persistent worker(s) "
                f"{', '.join(map(repr, workers))}, so it cannot be a job queue too; it needs "
                f"no concurrency (a client runs each worker it defines in a slot of its own). "
                f"Give job queues other names"
            )

    @property
    def names(self) -> list[str]:
        return sorted(self.workers)

    def install(self, runtime: Runtime, client_id: str, hooks: RunHooks = NO_HOOKS) -> None:
        """Give the started client a producer per persistent queue, a runner per worker,
        and the control messages and reconnections that concern runs; `hooks` are told
        of every run's start and end."""
        self.hooks = hooks
        by_queue: dict[str, list[PersistentWorker]] = {}
        for worker in self.workers.values():
            by_queue.setdefault(worker.queue, []).append(worker)
            runner = self._runner_for(worker, runtime.pool, client_id)
            runtime.set_runner(worker.kind, runner, worker.heartbeat_timeout)
        for queue, workers in by_queue.items():
            # One slot per worker: a client can run all of its workers at once.
            runtime.add_producer(queue, len(workers), fetch_kinds=[w.kind for w in workers])
        runtime.on_control("worker", self.on_control)
        runtime.on_reconnect(self.poke_runs)

    async def sync_definitions(self, pool: asyncpg.Pool[Any]) -> None:
        """Write code defaults (never over an operator's change) and start due runs."""
        for worker in self.workers.values():
            schema = worker.schema
            await pool.execute(
                sql.UPSERT_PERSISTENT_WORKER,
                worker.name,
                worker.enabled,
                json_text.dumps(worker.config),
                json_text.dumps(schema) if schema is not None else None,
                worker.queue,
                worker.heartbeat_interval,
                worker.heartbeat_timeout,
            )
            await pool.fetch(sql.INSERT_DUE_RUNS, worker.name, NON_FINAL_MASK)

    def _runner_for(
        self, worker: PersistentWorker, pool: asyncpg.Pool[Any], client_id: str
    ) -> Runner:
        async def run(running: RunningJob) -> None:
            if await discard_forged_run(worker.name, running, pool):
                return
            current = PersistentRun(
                worker, running, pool=pool, client_id=client_id, hooks=self.hooks
            )
            self.runs[worker.name] = current
            if running.job.stop_reason == "shutdown":
                # The client began stopping during the check above, after on_stop
                # looked at the runs: this one is told now, or it would run on.
                current.request_stop("shutdown")
            try:
                await current.execute()
            finally:
                if self.runs.get(worker.name) is current:
                    del self.runs[worker.name]
                current.end_grace()

        return run

    def on_control(self, message: dict[str, Any]) -> None:
        """An operator changed a worker: its run here (if any) looks at once."""
        current = self.runs.get(str(message.get("name")))
        if current is not None:
            current.poke()

    def poke_runs(self) -> None:
        for current in self.runs.values():
            current.poke()

    async def on_stop(self, cancel: bool) -> None:
        for current in list(self.runs.values()):
            current.request_stop("shutdown")
            if cancel:
                current.cancel_handler()


async def discard_forged_run(name: str, running: RunningJob, pool: asyncpg.Pool[Any]) -> bool:
    """Whether this job of the worker's kind was discarded for not being a run pqw made.

    Only the supervisor (and a run handing over) inserts runs, with the worker's
    run key; a job of the same kind inserted with plain SQL would otherwise start
    a second copy. If the check cannot reach the database the claim still refuses
    such a job (CLAIM_RUN checks the key too); this only ends it cleanly.
    """
    job = running.job
    why = (
        f"not a run of persistent worker {name!r}: it lacks the worker's run key, so pqw "
        f"did not insert it and it would start a second copy; discarded. Start the worker "
        f"with Admin.start_worker({name!r}) or `pqw persistent start {name}`"
    )
    try:
        discarded = await pool.fetchval(
            sql.DISCARD_FORGED_RUN, job.id, job.attempt, name, why, NON_FINAL_MASK
        )
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        return False
    if discarded is None:
        return False
    log.error("pqw: job %d: %s", job.id, why)
    return True
