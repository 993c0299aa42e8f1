"""The sample cluster as an AdminApi in memory: what screenshots and snapshot tests read from."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from engine.admin import (
    AdminApi,
    BulkStep,
    ConfigVersion,
    FailureGroup,
    InvalidJobOption,
    Job,
    JobCount,
    JobQuery,
    JobState,
    NotFound,
    Overview,
    PeriodicInfo,
    RunningJobInfo,
    WorkerInfo,
    WorkerStatus,
    describe_dsn,
    parse_schedule,
    validate_config,
)
from tui.dev.sample_cluster import SAMPLE_NOW, sample_overview
from tui.dev.sample_jobs import sample_jobs
from tui.dev.sample_memory import sample_configs, sample_logs, sample_runs, sample_states
from tui.dev.sample_worker_memory import SampleWorkerMemory

SAMPLE_DSN = "postgresql://pqw@db.internal:5432/orders"
SAMPLE_DATABASE = describe_dsn(SAMPLE_DSN)


class SampleSource(SampleWorkerMemory):
    """The sample cluster as an AdminApi, and its own Connector; actions change it in memory."""

    def __init__(self, overview: Overview | None = None, jobs: list[Job] | None = None) -> None:
        self._overview = overview or sample_overview()
        self._jobs = {j.id: j for j in (sample_jobs(SAMPLE_NOW) if jobs is None else jobs)}
        self._states = sample_states(SAMPLE_NOW)
        self._runs = sample_runs(SAMPLE_NOW)
        self._configs = sample_configs(SAMPLE_NOW)
        self.logs = sample_logs(SAMPLE_NOW)
        self.actor = "ops@bastion"
        self.writable = True  # False: the role of a read-only operator

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
        kept = ConfigVersion(version, valid, self.actor, self._overview.now)
        self._configs[name] = [kept, *self._configs.get(name, [])]
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

    # ------------------------------------------------------------------
    # Queues, schedules, search and bulk, in memory
    # ------------------------------------------------------------------

    async def set_queue_concurrency(self, name: str, concurrency: int | None) -> None:
        queues = [
            replace(q, concurrency=concurrency) if q.queue == name else q
            for q in self._overview.queues
        ]
        self._overview = replace(self._overview, queues=queues)

    async def can_write(self) -> bool:
        return self.writable

    async def run_periodic_now(self, schedule_id: str) -> None:
        self._find_periodic(schedule_id)

    async def set_periodic_schedule(self, schedule_id: str, schedule: str) -> str:
        self._find_periodic(schedule_id)
        described = parse_schedule(schedule).describe()
        periodic = [
            replace(p, schedule=described) if p.id == schedule_id else p
            for p in self._overview.periodic
        ]
        self._overview = replace(self._overview, periodic=periodic)
        return described

    def _find_periodic(self, schedule_id: str) -> PeriodicInfo:
        for p in self._overview.periodic:
            if p.id == schedule_id:
                return p
        raise NotFound(f"no periodic schedule with id {schedule_id!r}")

    async def periodic_runs(self, schedule_id: str, limit: int = 10) -> list[Job]:
        schedule = self._find_periodic(schedule_id)
        return await self.search_jobs(JobQuery(kind=schedule.kind), limit=limit)

    async def list_running_jobs(
        self, *, min_running: float = 0.0, limit: int = 100
    ) -> list[RunningJobInfo]:
        return self._overview.long_running[:limit]

    def _matching(self, query: JobQuery) -> list[Job]:
        return [
            j for j in sorted(self._jobs.values(), key=lambda j: -j.id) if job_matches(j, query)
        ]

    async def search_jobs(
        self,
        query: JobQuery,
        *,
        after: Job | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Job]:
        jobs = self._matching(query)
        below = after.id if after is not None else before_id
        if below is not None:
            jobs = [j for j in jobs if j.id < below]
        return jobs[:limit]

    async def count_jobs(self, query: JobQuery) -> JobCount:
        return JobCount(len(self._matching(query)))

    async def failure_groups(self, queue: str | None = None) -> list[FailureGroup]:
        groups: dict[tuple[str, str], list[Job]] = {}
        for j in self._matching(
            JobQuery(queue=queue, states=(JobState.RETRYABLE, JobState.DISCARDED))
        ):
            error = str(j.errors[-1].get("error", "")) if j.errors else ""
            groups.setdefault((j.kind, error.splitlines()[0] if error else ""), []).append(j)
        return [
            FailureGroup(
                kind=kind,
                error=error,
                jobs=len(jobs),
                retryable=sum(j.state is JobState.RETRYABLE for j in jobs),
                discarded=sum(j.state is JobState.DISCARDED for j in jobs),
                queues=sorted({j.queue for j in jobs}),
                last_failed_at=max(j.finalized_at or j.created_at for j in jobs),
                newest_id=max(j.id for j in jobs),
            )
            for (kind, error), jobs in groups.items()
        ]

    async def bulk_step(
        self,
        action: str,
        *,
        query: JobQuery | None = None,
        ids: list[int] | None = None,
        below: int | None = None,
        batch: int = 1_000,
    ) -> BulkStep:
        chosen = ids if ids is not None else [j.id for j in self._matching(query or JobQuery())]
        acted = 0
        for job_id in chosen:
            act = {"cancel": self.cancel_job, "retry": self.retry_job, "delete": self.delete_job}
            try:
                await act[action](job_id)
                acted += 1
            except (InvalidJobOption, NotFound):
                pass
        return BulkStep(acted, len(chosen) - acted, None)


def job_matches(job: Job, query: JobQuery) -> bool:
    """What Admin.search_jobs selects, for jobs in memory."""
    kind = query.kind
    return (
        (query.queue is None or job.queue == query.queue)
        and (not query.states or job.state in query.states)
        and (
            kind is None
            or (job.kind.startswith(kind[:-1]) if kind.endswith("*") else job.kind == kind)
        )
        and (query.job_id is None or job.id == query.job_id)
        and all(job.args.get(k) == v for k, v in (query.args or {}).items())
        and all(job.metadata.get(k) == v for k, v in (query.metadata or {}).items())
        and (query.text is None or query.text.lower() in json.dumps(job.args).lower())
    )
