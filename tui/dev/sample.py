"""The sample cluster as an AdminApi in memory: what screenshots and snapshot tests read from."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.admin import (
    LIVE_RUN_STATUSES,
    AdminApi,
    ConfigVersion,
    InvalidJobOption,
    Job,
    JobState,
    NotFound,
    Overview,
    WorkerDetail,
    WorkerInfo,
    WorkerLogLine,
    WorkerRun,
    WorkerState,
    WorkerStatus,
    describe_dsn,
    validate_config,
)
from tui.dev.sample_cluster import SAMPLE_NOW, sample_overview
from tui.dev.sample_jobs import sample_jobs
from tui.dev.sample_memory import sample_configs, sample_logs, sample_runs, sample_states

SAMPLE_DSN = "postgresql://pqw@db.internal:5432/orders"
SAMPLE_DATABASE = describe_dsn(SAMPLE_DSN)


class SampleSource:
    """The sample cluster as an AdminApi, and its own Connector; actions change it in memory."""

    def __init__(self, overview: Overview | None = None, jobs: list[Job] | None = None) -> None:
        self._overview = overview or sample_overview()
        self._jobs = {j.id: j for j in (sample_jobs(SAMPLE_NOW) if jobs is None else jobs)}
        self._states = sample_states(SAMPLE_NOW)
        self._runs = sample_runs(SAMPLE_NOW)
        self._configs = sample_configs(SAMPLE_NOW)
        self.logs = sample_logs(SAMPLE_NOW)
        self.actor = "ops@bastion"

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

    # ------------------------------------------------------------------
    # What workers remember
    # ------------------------------------------------------------------

    def _worker(self, name: str) -> WorkerInfo:
        found = next((w for w in self._overview.workers if w.name == name), None)
        if found is None:
            raise NotFound(f"no persistent worker named {name!r}")
        return found

    async def worker_state(self, name: str) -> WorkerState:
        self._worker(name)
        none = WorkerState(name, None, 0, 0, None, None, None, None, None, None, SAMPLE_NOW)
        return self._states.get(name, none)

    async def reset_worker_state(self, name: str) -> WorkerState:
        worker = self._worker(name)
        if worker.status in LIVE_RUN_STATUSES:
            raise InvalidJobOption(
                f"persistent worker {name!r} has a run under way (job {worker.job_id}): "
                "stop the worker and let the run end, then reset its state"
            )
        old = await self.worker_state(name)
        reset = replace(
            old,
            state=None,
            version=old.version + 1,
            size=0,
            run=None,
            job_id=None,
            client_id=None,
            checkpointed_at=None,
            reset_at=SAMPLE_NOW,
            reset_by=self.actor,
        )
        self._states[name] = reset
        return reset

    async def worker_runs(self, name: str, limit: int = 50) -> list[WorkerRun]:
        self._worker(name)
        return self._runs.get(name, [])[:limit]

    async def worker_log(
        self, name: str, *, after: int | None = None, limit: int = 200
    ) -> list[WorkerLogLine]:
        self._worker(name)
        lines = [x for x in self.logs.get(name, []) if after is None or x.seq > after]
        return lines[-limit:]

    async def worker_configs(self, name: str, limit: int = 20) -> list[ConfigVersion]:
        self._worker(name)
        return self._configs.get(name, [])[:limit]

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
        state = await self.worker_state(name)
        if state_version is not None and state.version == state_version:
            state = replace(state, state=None, included=False)
        return WorkerDetail(
            worker=self._worker(name),
            state=state,
            runs=await self.worker_runs(name, runs),
            configs=await self.worker_configs(name, configs),
            log=await self.worker_log(name, after=log_after, limit=log_limit),
        )

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
