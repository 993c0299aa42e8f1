"""AdminApi: every operator read and action, as one Protocol.

`Admin` implements it over Postgres; the dashboard's sample cluster implements
it in memory, so the dashboard is written against this one shape.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.admin.models import (
    BulkStep,
    FailureGroup,
    JobCount,
    JobQuery,
    Overview,
    RunningJobInfo,
)
from engine.admin.worker_models import (
    ConfigVersion,
    WorkerDetail,
    WorkerLogLine,
    WorkerRun,
    WorkerState,
)
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

    async def worker_state(self, name: str) -> WorkerState:
        """The worker's last checkpoint (NotFound: no such worker)."""
        ...

    async def reset_worker_state(self, name: str) -> WorkerState:
        """Forget the state (InvalidJobOption while a run is under way)."""
        ...

    async def worker_runs(self, name: str, limit: int = 50) -> list[WorkerRun]:
        """Newest first."""
        ...

    async def worker_log(
        self, name: str, *, after: int | None = None, limit: int = 200
    ) -> list[WorkerLogLine]:
        """The newest `limit` lines after line `after`, oldest first."""
        ...

    async def worker_configs(self, name: str, limit: int = 20) -> list[ConfigVersion]:
        """Newest first, each with who made it."""
        ...

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
        """What the worker screen shows; the state left out while it is `state_version`."""
        ...

    async def pause_queue(self, name: str) -> None: ...

    async def set_queue_concurrency(self, name: str, concurrency: int | None) -> None:
        """Slots per client, live (None: each client's own); InvalidJobOption out of range."""
        ...

    async def can_write(self) -> bool:
        """False for a role that may only read: the dashboard turns read-only."""
        ...

    async def resume_queue(self, name: str) -> None: ...

    async def enable_periodic(self, schedule_id: str) -> None: ...

    async def disable_periodic(self, schedule_id: str) -> None: ...

    async def run_periodic_now(self, schedule_id: str) -> None: ...

    async def set_periodic_schedule(self, schedule_id: str, schedule: str) -> str:
        """The schedule stored ("every 300s"); InvalidSchedule when it is not one."""
        ...

    async def periodic_runs(self, schedule_id: str, limit: int = 10) -> list[Job]:
        """The schedule's last jobs, newest first."""
        ...

    async def list_running_jobs(
        self, *, min_running: float = 0.0, limit: int = 100
    ) -> list[RunningJobInfo]: ...

    async def search_jobs(
        self,
        query: JobQuery,
        *,
        after: Job | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """A page of the jobs `query` matches, newest first in its order, below `after`
        (or, in created order, below the id `before_id`)."""
        ...

    async def count_jobs(self, query: JobQuery) -> JobCount: ...

    async def failure_groups(self, queue: str | None = None) -> list[FailureGroup]: ...

    async def bulk_step(
        self,
        action: str,
        *,
        query: JobQuery | None = None,
        ids: list[int] | None = None,
        below: int | None = None,
        batch: int = ...,
    ) -> BulkStep:
        """One bounded batch (of at most `batch` jobs) of a bulk cancel, retry or delete;
        call on with next_below."""
        ...

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
