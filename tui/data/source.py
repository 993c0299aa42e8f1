"""Where the dashboard's data comes from: the engine's Admin, or anything shaped like it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from engine.admin import (
    Admin,
    DatabaseUnavailable,
    Job,
    JobState,
    Overview,
    connection_failure,
    describe_dsn,
    is_connection_error,
)

CLOSE_TIMEOUT = 2.0

T = TypeVar("T")


class DashboardSource(Protocol):
    """The reads and actions the dashboard needs; the real one is AdminSource."""

    @property
    def database(self) -> str:
        """Where the data comes from, for the header; never with a password."""
        ...

    async def open(self) -> None:
        """Connect if not connected (DatabaseUnavailable, SchemaError)."""

    async def reset(self) -> None:
        """Drop the connections after a loss; the next call connects afresh."""

    async def close(self) -> None: ...

    async def overview(self) -> Overview: ...

    async def start_worker(self, name: str) -> None: ...

    async def stop_worker(self, name: str) -> None: ...

    async def restart_worker(self, name: str) -> None: ...

    async def set_worker_config(self, name: str, config: dict[str, Any]) -> int:
        """The new config version (InvalidConfig when refused)."""
        ...

    async def pause_queue(self, name: str) -> None: ...

    async def resume_queue(self, name: str) -> None: ...

    async def enable_periodic(self, schedule_id: str) -> None: ...

    async def disable_periodic(self, schedule_id: str) -> None: ...

    async def list_jobs(
        self,
        *,
        queue: str | None = None,
        state: JobState | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """Newest first; older pages with before_id."""
        ...

    async def get_job(self, job_id: int) -> Job:
        """NotFound when there is no such job (any more)."""
        ...

    async def cancel_job(self, job_id: int) -> Job: ...

    async def retry_job(self, job_id: int) -> Job:
        """InvalidJobOption when it runs, or a live duplicate holds its unique key."""
        ...

    async def delete_job(self, job_id: int) -> Job:
        """InvalidJobOption when it runs."""
        ...


class AdminSource:
    """The engine's Admin over a small asyncpg pool, opened lazily and reopened after a loss."""

    def __init__(self, dsn: str, *, pool_size: int = 3) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._admin: Admin | None = None

    @property
    def database(self) -> str:
        return describe_dsn(self._dsn)

    async def _connected(self) -> Admin:
        if self._admin is None:
            self._admin = await Admin.connect(
                self._dsn, pool_size=self._pool_size, application_name="pqw-tui"
            )
        return self._admin

    async def open(self) -> None:
        await self._connected()

    async def reset(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            # terminate, not close: close waits for connections that may never answer.
            admin.pool.terminate()

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is None:
            return
        try:
            await asyncio.wait_for(admin.close(), CLOSE_TIMEOUT)
        except Exception:
            # A pool whose server is gone may never finish a polite close.
            admin.pool.terminate()

    async def _with_admin(self, call: Callable[[Admin], Awaitable[T]]) -> T:
        try:
            return await call(await self._connected())
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            # A pool reconnecting on its own raises raw socket errors; say them
            # the way the engine says a failed connect (host named, no password).
            if is_connection_error(exc):
                raise connection_failure(self._dsn, exc) from exc
            raise

    async def overview(self) -> Overview:
        return await self._with_admin(lambda a: a.overview())

    async def start_worker(self, name: str) -> None:
        await self._with_admin(lambda a: a.start_worker(name))

    async def stop_worker(self, name: str) -> None:
        await self._with_admin(lambda a: a.stop_worker(name))

    async def restart_worker(self, name: str) -> None:
        await self._with_admin(lambda a: a.restart_worker(name))

    async def set_worker_config(self, name: str, config: dict[str, Any]) -> int:
        return await self._with_admin(lambda a: a.set_worker_config(name, config))

    async def pause_queue(self, name: str) -> None:
        await self._with_admin(lambda a: a.pause_queue(name))

    async def resume_queue(self, name: str) -> None:
        await self._with_admin(lambda a: a.resume_queue(name))

    async def enable_periodic(self, schedule_id: str) -> None:
        await self._with_admin(lambda a: a.enable_periodic(schedule_id))

    async def disable_periodic(self, schedule_id: str) -> None:
        await self._with_admin(lambda a: a.disable_periodic(schedule_id))

    async def list_jobs(
        self,
        *,
        queue: str | None = None,
        state: JobState | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Job]:
        return await self._with_admin(
            lambda a: a.list_jobs(
                queue=queue, state=state, kind=kind, before_id=before_id, limit=limit
            )
        )

    async def get_job(self, job_id: int) -> Job:
        return await self._with_admin(lambda a: a.get_job(job_id))

    async def cancel_job(self, job_id: int) -> Job:
        return await self._with_admin(lambda a: a.cancel_job(job_id))

    async def retry_job(self, job_id: int) -> Job:
        return await self._with_admin(lambda a: a.retry_job(job_id))

    async def delete_job(self, job_id: int) -> Job:
        return await self._with_admin(lambda a: a.delete_job(job_id))
