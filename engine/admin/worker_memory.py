"""The Admin's reads of what persistent workers remember (state, runs, log, config
versions) and the one action on it: resetting a worker's state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from engine import sql
from engine.admin.guard import guarded
from engine.admin.records import worker_info
from engine.admin.worker_models import (
    ConfigVersion,
    WorkerDetail,
    WorkerLogLine,
    WorkerRun,
    WorkerState,
)
from engine.db.pool import Conn
from engine.errors import InvalidJobOption, NotFound
from engine.maintenance.config import CLIENT_DEAD_AFTER


def _state(r: Mapping[str, Any]) -> WorkerState:
    return WorkerState(
        name=r["name"],
        state=r["state"],
        version=r["version"],
        size=r["size"],
        run=r["run"],
        job_id=r["job_id"],
        client_id=r["client_id"],
        checkpointed_at=r["checkpointed_at"],
        reset_at=r["reset_at"],
        reset_by=r["reset_by"],
        now=r["now"],
        included=r["included"],
    )


def _run(r: Mapping[str, Any]) -> WorkerRun:
    return WorkerRun(
        name=r["name"],
        run=r["run"],
        job_id=r["job_id"],
        attempt=r["attempt"],
        client_id=r["client_id"],
        host=r["host"],
        pid=r["pid"],
        config_version=r["config_version"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        end_reason=r["end_reason"],
        error=r["error"],
        now=r["now"],
    )


def _line(r: Mapping[str, Any]) -> WorkerLogLine:
    return WorkerLogLine(r["seq"], r["run"], r["at"], r["level"], r["logger"], r["message"])


def _config(r: Mapping[str, Any]) -> ConfigVersion:
    return ConfigVersion(r["version"], r["config"], r["changed_by"], r["changed_at"])


def _missing(name: str) -> NotFound:
    return NotFound(f"no persistent worker named {name!r}")


@guarded
class WorkerMemory:
    """Admin's part for what workers remember (Admin holds the pool and the actor)."""

    pool: asyncpg.Pool[Any]
    dsn: str
    actor: str

    async def _state_on(self, conn: Conn, name: str, known_version: int | None) -> WorkerState:
        row = await conn.fetchrow(sql.WORKER_STATE, name, known_version)
        if row is None:
            raise _missing(name)
        return _state(row)

    async def worker_state(self, name: str) -> WorkerState:
        """The worker's state: its last checkpoint (NotFound: no such worker)."""
        async with self.pool.acquire() as conn:
            return await self._state_on(conn, name, None)

    async def reset_worker_state(self, name: str) -> WorkerState:
        """Forget the worker's state: its next run starts with none (ctx.state is None).
        Refused (InvalidJobOption) while a run is under way, which would checkpoint what
        it holds again: stop the worker, wait for its run to end, then reset."""
        async with self.pool.acquire() as conn, conn.transaction():
            # The worker's row is locked first (as a run's claim locks it), so no run
            # can start between the check and the reset with the state from before it.
            row = await conn.fetchrow(sql.LOCK_WORKER_FOR_RESET, name)
            if row is None:
                raise _missing(name)
            if row["running_job"] is not None:
                raise InvalidJobOption(
                    f"persistent worker {name!r} has a run under way (job {row['running_job']}), "
                    "which would checkpoint its state again: stop the worker and let the run "
                    "end, then reset its state"
                )
            await conn.execute(sql.RESET_WORKER_STATE, name, self.actor)
            return await self._state_on(conn, name, None)

    async def _exists(self, conn: Conn, name: str) -> None:
        if await conn.fetchrow(sql.WORKER_EXISTS, name) is None:
            raise _missing(name)

    async def worker_runs(self, name: str, limit: int = 50) -> list[WorkerRun]:
        """The worker's runs, newest first (the last RUNS_KEPT are kept)."""
        async with self.pool.acquire() as conn:
            await self._exists(conn, name)
            return [_run(r) for r in await conn.fetch(sql.WORKER_RUNS, name, limit)]

    async def worker_log(
        self, name: str, *, after: int | None = None, limit: int = 200
    ) -> list[WorkerLogLine]:
        """The newest `limit` lines of the worker's log after line `after` (None: the
        newest), oldest first. The log is a ring of the newest LOG_LINES lines."""
        async with self.pool.acquire() as conn:
            await self._exists(conn, name)
            return [_line(r) for r in await conn.fetch(sql.WORKER_LOG, name, after, limit)]

    async def worker_configs(self, name: str, limit: int = 20) -> list[ConfigVersion]:
        """The worker's config versions, newest first, each with who made it."""
        async with self.pool.acquire() as conn:
            await self._exists(conn, name)
            return [_config(r) for r in await conn.fetch(sql.WORKER_CONFIGS, name, limit)]

    async def worker_detail(
        self,
        name: str,
        *,
        state_version: int | None = None,
        log_after: int | None = None,
        log_limit: int = 200,
        runs: int = 30,
        configs: int = 20,
    ) -> WorkerDetail:
        """The worker, its state, runs, config versions and new log lines, from one
        snapshot. The state itself is left out when it is still `state_version`."""
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            found = await conn.fetch(sql.LIST_PERSISTENT_WORKERS, CLIENT_DEAD_AFTER, name)
            if not found:
                raise _missing(name)
            return WorkerDetail(
                worker=worker_info(found[0]),
                state=await self._state_on(conn, name, state_version),
                runs=[_run(r) for r in await conn.fetch(sql.WORKER_RUNS, name, runs)],
                configs=[_config(r) for r in await conn.fetch(sql.WORKER_CONFIGS, name, configs)],
                log=[
                    _line(r) for r in await conn.fetch(sql.WORKER_LOG, name, log_after, log_limit)
                ],
            )
