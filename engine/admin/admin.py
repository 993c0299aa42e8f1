"""Admin: every operator read and action, for the CLI and the dashboard.

All of it goes through this one class: nothing else outside the engine talks
to Postgres. Actions change a row and send a control message in one
transaction, so the change is durable first and the other processes are told
at commit.
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from engine import sql
from engine.admin.guard import guarded
from engine.admin.models import (
    ClientInfo,
    LeaderInfo,
    Overview,
    QueueCounts,
    RunningJobInfo,
    WorkerInfo,
)
from engine.admin.records import client_info, queue_counts, running_job_info, worker_info
from engine.admin.removal import WorkerRemoval
from engine.admin.schedule_admin import ScheduleAdmin
from engine.admin.worker_memory import WorkerMemory
from engine.db.dsn import Database, resolve_database
from engine.db.migrate import check_schema
from engine.db.outage import connection_failure, is_connection_error
from engine.db.pool import create_pool
from engine.errors import InvalidConfig, InvalidJobOption, NotFound
from engine.jobs import control
from engine.jobs.checks import validate_queue
from engine.jobs.unique import NON_FINAL_MASK, RESERVED_KIND_PREFIX
from engine.maintenance.config import CLIENT_DEAD_AFTER
from engine.persistent.config_schema import encode_config, validate_config
from engine.types import Job, JobState

# The overview lists jobs running at least this many seconds (a few of them):
# long loops like River's recipe, shown with their heartbeat.
LONG_RUNNING = 10.0
LONG_RUNNING_SHOWN = 20
# The most slots per client an operator may give a queue.
MAX_CONCURRENCY = 10_000


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@guarded
class Admin(WorkerMemory, ScheduleAdmin, WorkerRemoval):
    """Operator reads and actions over a small pool. Open with `await Admin.connect(dsn)`.

    What persistent workers remember (state, runs, log, config versions) is read
    through the methods of WorkerMemory (engine/admin/worker_memory.py); schedules
    through ScheduleAdmin (engine/admin/schedule_admin.py).
    """

    def __init__(
        self, pool: asyncpg.Pool[Any], dsn: str, actor: str, direct_dsn: str | None = None
    ) -> None:
        self.pool = pool
        self.dsn = dsn
        self.direct_dsn = direct_dsn
        self.actor = actor

    @classmethod
    async def connect(
        cls,
        dsn: str | None = None,
        *,
        direct_dsn: str | None = None,
        pool_mode: str | None = None,
        actor: str | None = None,
        pool_size: int = 4,
        check: bool = True,
        application_name: str = "pqw admin",
    ) -> Admin:
        """Connect (DatabaseUnavailable when it cannot) and check the schema (SchemaError).

        URLs and pool mode as for Client (options, else PQW_DATABASE_URL,
        PQW_DIRECT_URL, PQW_POOL_MODE); every read and action works on a
        transaction-pooled URL, so the direct one is only remembered.
        """
        resolved = resolve_database(dsn, direct_dsn, pool_mode)
        pool = await create_pool(
            resolved.url,
            min_size=1,
            max_size=pool_size,
            server_settings={"application_name": application_name},
        )
        if check:
            try:
                async with pool.acquire() as conn:
                    await check_schema(conn)
            except BaseException as exc:
                await pool.close()
                if isinstance(exc, Exception) and is_connection_error(exc):
                    raise connection_failure(resolved.url, exc) from exc
                raise
        return cls(pool, resolved.url, actor or default_actor(), resolved.direct_url)

    async def close(self) -> None:
        await self.pool.close()

    def terminate(self) -> None:
        """Drop every connection at once: close() waits for answers a lost server never sends."""
        self.pool.terminate()

    @property
    def database(self) -> str:
        """Where this admin is connected (and how), without a password."""
        return Database(self.dsn, self.direct_dsn).describe()

    # ------------------------------------------------------------------
    # Jobs
    # ------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job:
        row = await self.pool.fetchrow(sql.GET_JOB, job_id)
        if row is None:
            raise NotFound(f"no job with id {job_id}")
        return Job.from_record(row)

    async def list_jobs(
        self,
        *,
        queue: str | None = None,
        state: JobState | str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """Newest first; page with before_id."""
        state_name = JobState(state).value if state is not None else None
        rows = await self.pool.fetch(sql.LIST_JOBS, queue, state_name, kind, before_id, limit)
        return [Job.from_record(r) for r in rows]

    async def list_running_jobs(
        self, *, min_running: float = 0.0, limit: int = 100
    ) -> list[RunningJobInfo]:
        """Running jobs (not persistent runs: those are workers) with their heartbeat and
        where they run, longest-running first; `min_running` seconds at least."""
        rows = await self.pool.fetch(
            sql.LIST_RUNNING_JOBS, RESERVED_KIND_PREFIX, min_running, limit
        )
        return [running_job_info(r) for r in rows]

    async def cancel_job(self, job_id: int) -> Job:
        """Cancel a waiting job now, or ask the client running it to cancel it."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(sql.CANCEL_JOB, job_id)
            if row is None:
                return await self.get_job(job_id)  # NotFound, or already final
            job = Job.from_record(row)
            if job.state is JobState.RUNNING:
                await control.send(conn, control.cancel_job(job_id))
            return job

    async def retry_job(self, job_id: int) -> Job:
        """Make a job available to run again now (not while it runs)."""
        try:
            row = await self.pool.fetchrow(sql.RETRY_JOB, job_id)
        except asyncpg.UniqueViolationError as exc:
            raise InvalidJobOption(
                f"job {job_id} cannot run again now: another live job holds its unique key"
            ) from exc
        if row is None:
            job = await self.get_job(job_id)
            raise InvalidJobOption(f"job {job_id} is {job.state}: wait for it or cancel it first")
        return Job.from_record(row)

    async def delete_job(self, job_id: int) -> Job:
        """Delete a job that is not running."""
        row = await self.pool.fetchrow(sql.DELETE_JOB, job_id)
        if row is None:
            job = await self.get_job(job_id)
            raise InvalidJobOption(f"job {job_id} is {job.state}: cancel it before deleting it")
        return Job.from_record(row)

    # ------------------------------------------------------------------
    # Queues
    # ------------------------------------------------------------------

    async def queue_state_counts(self) -> list[QueueCounts]:
        """Every queue with its exact jobs per state, pause, concurrency, latency and
        recent failures: a few hundred small rows, whatever the size of pqw_job."""
        rows = await self.pool.fetch(sql.QUEUE_OVERVIEW, sql.OUTCOME_WINDOW)
        return [queue_counts(r) for r in rows]

    async def pause_queue(self, name: str) -> None:
        """Clients stop fetching from the queue (within a second); running jobs finish."""
        validate_queue(name)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.PAUSE_QUEUE, name)
            await control.send(conn, control.queue_paused(name, True))

    async def resume_queue(self, name: str) -> None:
        validate_queue(name)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.RESUME_QUEUE, name)
            await control.send(conn, control.queue_paused(name, False))

    async def set_queue_concurrency(self, name: str, concurrency: int | None) -> None:
        """Slots per client for the queue, live (None: each client's own from its code).
        Stored in pqw_queue; every client working the queue applies it within a second."""
        validate_queue(name)
        if concurrency is not None and not 0 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidJobOption(
                f"concurrency must be between 0 and {MAX_CONCURRENCY}, got {concurrency}"
            )
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.SET_QUEUE_CONCURRENCY, name, concurrency)
            await control.send(conn, control.queue_concurrency(name, concurrency))

    async def can_write(self) -> bool:
        """Whether this role may change jobs and queues (False: a read-only dashboard)."""
        return bool(await self.pool.fetchval(sql.CAN_WRITE))

    # ------------------------------------------------------------------
    # Cluster
    # ------------------------------------------------------------------

    async def list_clients(self, *, include_stopped: bool = False) -> list[ClientInfo]:
        rows = await self.pool.fetch(sql.LIST_CLIENTS, CLIENT_DEAD_AFTER, include_stopped)
        return [client_info(r) for r in rows]

    async def leader(self) -> LeaderInfo | None:
        row = await self.pool.fetchrow(sql.GET_LEADER)
        if row is None:
            return None
        return LeaderInfo(row["leader_id"], row["elected_at"], row["expires_at"], row["valid"])

    async def throughput(self, seconds: int = 60) -> list[int]:
        """Completed jobs per second over the last `seconds` (oldest first, this second last)."""
        rows = await self.pool.fetch(sql.THROUGHPUT, seconds)
        if rows:
            now_second = rows[0]["now_second"]
        else:
            now_second = await self.pool.fetchval(sql.NOW_SECOND)
        by_second = {r["second"]: int(r["completed"]) for r in rows}
        return [by_second.get(now_second - i, 0) for i in range(seconds - 1, -1, -1)]

    # ------------------------------------------------------------------
    # Persistent workers
    # ------------------------------------------------------------------

    async def list_persistent_workers(self, name: str | None = None) -> list[WorkerInfo]:
        rows = await self.pool.fetch(sql.LIST_PERSISTENT_WORKERS, CLIENT_DEAD_AFTER, name)
        return [worker_info(r) for r in rows]

    async def get_worker(self, name: str) -> WorkerInfo:
        workers = await self.list_persistent_workers(name)
        if not workers:
            raise NotFound(f"no persistent worker named {name!r}")
        return workers[0]

    async def _change_worker(self, name: str, change: str, statement: str) -> None:
        """Update the worker's row, then (unless stopping) insert its run if it has none,
        and tell every client, all in one transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(statement, name, self.actor) is None:
                raise NotFound(f"no persistent worker named {name!r}")
            if change == "stop":
                await conn.execute(sql.CANCEL_WAITING_RUN, name, self.actor)
            else:
                await conn.fetch(sql.INSERT_DUE_RUNS, name, NON_FINAL_MASK)
            await control.send(conn, control.worker_changed(name, change))

    async def stop_worker(self, name: str) -> None:
        """Disable the worker: its run is told to stop (within a second) and none follows."""
        await self._change_worker(name, "stop", sql.STOP_WORKER)

    async def start_worker(self, name: str) -> None:
        """Enable the worker; a run is inserted at once and starts on a client within a second."""
        await self._change_worker(name, "start", sql.START_WORKER)

    async def restart_worker(self, name: str) -> None:
        """End the current run gracefully and start a new one (starting it if stopped)."""
        await self._change_worker(name, "restart", sql.RESTART_WORKER)

    async def set_worker_config(self, name: str, config: Any) -> int:
        """Replace the worker's config (validated; a bad value changes nothing); the new
        version, or the current one when the config is the same (nothing changes)."""
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except (ValueError, RecursionError) as exc:
                raise InvalidConfig(f"config is not valid JSON: {exc}") from exc
        async with self.pool.acquire() as conn, conn.transaction():
            found = await conn.fetchrow(sql.WORKER_EXISTS, name)
            if found is None:
                raise NotFound(f"no persistent worker named {name!r}")
            encoded = encode_config(validate_config(found["config_schema"], config))
            if json.loads(encoded) == found["config"]:
                # The same config again (saved unchanged): no new version, no restart.
                return int(found["config_version"])
            version: int = await conn.fetchval(sql.SET_WORKER_CONFIG, name, encoded, self.actor)
            await control.send(conn, control.worker_changed(name, "config"))
            return version

    # ------------------------------------------------------------------
    # Periodic schedules
    # ------------------------------------------------------------------

    # ------------------------------------------------------------------
    # Everything at once
    # ------------------------------------------------------------------

    async def overview(self, *, throughput_seconds: int = 60) -> Overview:
        """What the dashboard shows, in a handful of cheap queries."""
        now: datetime = await self.pool.fetchval(sql.NOW)
        return Overview(
            now=now,
            leader=await self.leader(),
            clients=await self.list_clients(),
            queues=await self.queue_state_counts(),
            workers=await self.list_persistent_workers(),
            throughput=await self.throughput(throughput_seconds),
            periodic=await self.list_periodic_jobs(),
            long_running=await self.list_running_jobs(
                min_running=LONG_RUNNING, limit=LONG_RUNNING_SHOWN
            ),
        )


__all__: Sequence[str] = ["Admin"]
