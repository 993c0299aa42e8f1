"""AdminApi: every operator read and action, as one Protocol.

`Admin` implements it over Postgres; the dashboard's sample cluster implements
it in memory, so the dashboard is written against this one shape.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.admin.models import Overview
from engine.types import Job, JobState


class AdminApi(Protocol):
    """The reads and actions of an operator (the dashboard and the CLI)."""

    @property
    def database(self) -> str:
        """Where the data comes from, for headers and messages; never with a password."""
        ...

    async def overview(self) -> Overview:
        """Everything the dashboard's main screen shows, read in one go."""
        ...

    async def start_worker(self, name: str) -> None: ...

    async def stop_worker(self, name: str) -> None: ...

    async def restart_worker(self, name: str) -> None: ...

    async def delete_worker(self, name: str) -> None:
        """Remove a worker no live client defines (InvalidJobOption saying what keeps it)."""
        ...

    async def set_worker_config(self, name: str, config: Any) -> int:
        """The new config version (InvalidConfig when refused: nothing changed)."""
        ...

    async def pause_queue(self, name: str) -> None: ...

    async def resume_queue(self, name: str) -> None: ...

    async def enable_periodic(self, schedule_id: str) -> None: ...

    async def disable_periodic(self, schedule_id: str) -> None: ...

    async def list_jobs(
        self,
        *,
        queue: str | None = None,
        state: JobState | str | None = None,
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
