"""The sample cluster as an AdminApi in memory: what screenshots and snapshot tests read from."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.admin import (
    AdminApi,
    InvalidJobOption,
    Job,
    JobState,
    NotFound,
    Overview,
    WorkerInfo,
    WorkerStatus,
    describe_dsn,
    validate_config,
)
from tui.dev.sample_cluster import SAMPLE_NOW, sample_overview
from tui.dev.sample_jobs import sample_jobs

SAMPLE_DSN = "postgresql://pqw@db.internal:5432/orders"
SAMPLE_DATABASE = describe_dsn(SAMPLE_DSN)


class SampleSource:
    """The sample cluster as an AdminApi, and its own Connector; actions change it in memory."""

    def __init__(self, overview: Overview | None = None, jobs: list[Job] | None = None) -> None:
        self._overview = overview or sample_overview()
        self._jobs = {j.id: j for j in (sample_jobs(SAMPLE_NOW) if jobs is None else jobs)}

    @property
    def database(self) -> str:
        return SAMPLE_DATABASE

    @property
    def dsn(self) -> str:
        return SAMPLE_DSN

    async def open(self) -> AdminApi:
        return self

    async def reset(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def overview(self) -> Overview:
        return self._overview

    def set_overview(self, overview: Overview) -> None:
        """What the next read returns (tests change the cluster under the dashboard)."""
        self._overview = overview

    def _change_worker(self, name: str, **fields: Any) -> WorkerInfo:
        workers = list(self._overview.workers)
        for i, w in enumerate(workers):
            if w.name == name:
                workers[i] = replace(w, **fields)
                self._overview = replace(self._overview, workers=workers)
                return workers[i]
        raise NotFound(f"no persistent worker named {name!r}")

    def _change_queue(self, name: str, paused: bool) -> None:
        queues = [
            replace(q, paused=paused) if q.queue == name else q for q in self._overview.queues
        ]
        self._overview = replace(self._overview, queues=queues)

    async def start_worker(self, name: str) -> None:
        self._change_worker(name, enabled=True, status=WorkerStatus.STARTING)

    async def stop_worker(self, name: str) -> None:
        self._change_worker(name, enabled=False, status=WorkerStatus.STOPPED)

    async def restart_worker(self, name: str) -> None:
        self._change_worker(name, enabled=True, status=WorkerStatus.STARTING, run_started_at=None)

    async def delete_worker(self, name: str) -> None:
        worker = next((w for w in self._overview.workers if w.name == name), None)
        if worker is None:
            raise NotFound(f"no persistent worker named {name!r}")
        if worker.runners or worker.status is WorkerStatus.RUNNING:
            raise InvalidJobOption(f"persistent worker {name!r} is defined by a live client")
        workers = [w for w in self._overview.workers if w.name != name]
        self._overview = replace(self._overview, workers=workers)

    async def set_worker_config(self, name: str, config: Any) -> int:
        current = next((w for w in self._overview.workers if w.name == name), None)
        schema = current.config_schema if current else None
        valid = validate_config(schema, config)
        version = (current.config_version if current else 0) + 1
        self._change_worker(name, config=valid, config_version=version)
        return version

    async def pause_queue(self, name: str) -> None:
        self._change_queue(name, True)

    async def resume_queue(self, name: str) -> None:
        self._change_queue(name, False)

    def _change_periodic(self, schedule_id: str, enabled: bool) -> None:
        if not any(p.id == schedule_id for p in self._overview.periodic):
            raise NotFound(f"no periodic schedule with id {schedule_id!r}")
        periodic = [
            replace(p, enabled=enabled) if p.id == schedule_id else p
            for p in self._overview.periodic
        ]
        self._overview = replace(self._overview, periodic=periodic)

    async def enable_periodic(self, schedule_id: str) -> None:
        self._change_periodic(schedule_id, True)

    async def disable_periodic(self, schedule_id: str) -> None:
        self._change_periodic(schedule_id, False)

    async def list_jobs(
        self,
        *,
        queue: str | None = None,
        state: JobState | str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Job]:
        jobs = [
            j
            for j in sorted(self._jobs.values(), key=lambda j: -j.id)
            if (queue is None or j.queue == queue)
            and (state is None or j.state == state)
            and (kind is None or j.kind == kind)
            and (before_id is None or j.id < before_id)
        ]
        return jobs[:limit]

    async def get_job(self, job_id: int) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job with id {job_id}")
        return job

    async def cancel_job(self, job_id: int) -> Job:
        job = await self.get_job(job_id)
        if job.state in (JobState.COMPLETED, JobState.CANCELLED, JobState.DISCARDED):
            return job
        if job.state is not JobState.RUNNING:
            job = replace(job, state=JobState.CANCELLED, finalized_at=SAMPLE_NOW)
            self._jobs[job_id] = job
        return job

    async def retry_job(self, job_id: int) -> Job:
        job = await self.get_job(job_id)
        if job.state is JobState.RUNNING:
            raise InvalidJobOption(f"job {job_id} is running: wait for it or cancel it first")
        job = replace(job, state=JobState.AVAILABLE, scheduled_at=SAMPLE_NOW, finalized_at=None)
        self._jobs[job_id] = job
        return job

    async def delete_job(self, job_id: int) -> Job:
        job = await self.get_job(job_id)
        if job.state is JobState.RUNNING:
            raise InvalidJobOption(f"job {job_id} is running: cancel it before deleting it")
        del self._jobs[job_id]
        return job
