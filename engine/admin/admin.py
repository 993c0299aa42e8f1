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
    PeriodicInfo,
    QueueCounts,
    RunningJobInfo,
    WorkerInfo,
)
from engine.admin.records import client_info, periodic_info, running_job_info, worker_info
from engine.admin.removal import WorkerRemoval
from engine.db.dsn import Database, resolve_database
from engine.db.migrate import check_schema
from engine.db.outage import connection_failure, is_connection_error
from engine.db.pool import create_pool
from engine.errors import InvalidConfig, InvalidJobOption, NotFound
from engine.jobs import control
from engine.jobs.checks import validate_queue
from engine.jobs.insert_params import DEFAULT_QUEUE
from engine.jobs.unique import NON_FINAL_MASK, RESERVED_KIND_PREFIX
from engine.maintenance.config import CLIENT_DEAD_AFTER
from engine.persistent.config_schema import encode_config, validate_config
from engine.types import Job, JobState

# Exact counts up to this many jobs per queue and state; estimates above.
COUNT_CAP = 10_000
# The overview lists jobs running at least this many seconds (a few of them):
# long loops like River's recipe, shown with their heartbeat.
LONG_RUNNING = 10.0
LONG_RUNNING_SHOWN = 20


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@guarded
class Admin(WorkerRemoval):
    """Operator reads and actions over a small pool. Open with `await Admin.connect(dsn)`."""

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

    async def queue_state_counts(self, *, cap: int = COUNT_CAP) -> list[QueueCounts]:
        """Jobs per queue per state; above `cap` a count is the planner's estimate."""
        rows = await self.pool.fetch(sql.QUEUE_STATE_COUNTS, cap)
        by_queue: dict[str, dict[str, Any]] = {}
        for r in rows:
            entry = by_queue.setdefault(
                r["queue"], {"counts": {}, "estimated": set(), "paused": r["paused"]}
            )
            state = JobState(r["state"])
            entry["counts"][state] = int(r["count"])
            if r["estimated"]:
                entry["estimated"].add(state)
        return [
            QueueCounts(q, e["counts"], frozenset(e["estimated"]), e["paused"])
            for q, e in by_queue.items()
        ]

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
        """Replace the worker's config (validated; a bad value changes nothing); the new version."""
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
            version: int = await conn.fetchval(sql.SET_WORKER_CONFIG, name, encoded, self.actor)
            await control.send(conn, control.worker_changed(name, "config"))
            return version

    # ------------------------------------------------------------------
    # Periodic schedules
    # ------------------------------------------------------------------

    async def list_periodic_jobs(self) -> list[PeriodicInfo]:
        """Every schedule, with its last tick's outcome and whether a live client runs it."""
        rows = await self.pool.fetch(sql.LIST_PERIODIC, CLIENT_DEAD_AFTER, DEFAULT_QUEUE)
        return [periodic_info(r) for r in rows]

    async def delete_periodic(self, schedule_id: str) -> None:
        """Remove a schedule no code defines any more (any leader would keep running it).
        A client that still defines it writes it again when it starts."""
        if await self.pool.fetchval(sql.DELETE_PERIODIC, schedule_id) is None:
            raise NotFound(f"no periodic schedule with id {schedule_id!r}")

    async def set_periodic_enabled(self, schedule_id: str, enabled: bool) -> None:
        # No control message: the leader's periodic pass reads the row every half second.
        if await self.pool.fetchval(sql.SET_PERIODIC_ENABLED, schedule_id, enabled) is None:
            raise NotFound(f"no periodic schedule with id {schedule_id!r}")

    async def enable_periodic(self, schedule_id: str) -> None:
        await self.set_periodic_enabled(schedule_id, True)

    async def disable_periodic(self, schedule_id: str) -> None:
        await self.set_periodic_enabled(schedule_id, False)

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
