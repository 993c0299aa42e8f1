"""A fixed, made-up cluster for screenshots and snapshot tests: same pixels every run.

Every time, name, pid and count is a constant; `SAMPLE_NOW` is the frozen clock
the app is given alongside it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.admin import (
    AdminApi,
    ClientInfo,
    InvalidJobOption,
    Job,
    JobState,
    LeaderInfo,
    NotFound,
    Overview,
    QueueCounts,
    WorkerInfo,
    WorkerStatus,
    describe_dsn,
    validate_config,
)
from tui.dev.sample_jobs import sample_jobs, sample_periodic

SAMPLE_NOW = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
SAMPLE_DSN = "postgresql://pqw@db.internal:5432/orders"
SAMPLE_DATABASE = describe_dsn(SAMPLE_DSN)


def _ago(seconds: float) -> datetime:
    return SAMPLE_NOW - timedelta(seconds=seconds)


FEED_SCHEMA: dict[str, Any] = {
    "title": "FeedConfig",
    "type": "object",
    "properties": {
        "url": {"type": "string"},
        "interval_s": {"type": "number"},
        "batch_size": {"type": "integer"},
    },
    "required": ["url"],
    "additionalProperties": False,
}


def _worker(name: str, status: WorkerStatus, **fields: Any) -> WorkerInfo:
    base: dict[str, Any] = dict(
        name=name,
        enabled=status not in (WorkerStatus.STOPPED, WorkerStatus.STOPPING),
        status=status,
        queue="persistent",
        config={},
        config_version=1,
        config_schema=None,
        heartbeat_interval=1.0,
        heartbeat_timeout=5.0,
        runs=1,
        restarts=0,
        consecutive_failures=0,
        last_error=None,
        last_error_at=None,
        progress=None,
        progress_at=None,
        next_run_at=_ago(3600),
        run_started_at=None,
        last_run_ended_at=None,
        restart_requested_at=None,
        updated_at=_ago(86_400),
        updated_by="ops@bastion",
        job_id=None,
        job_state=None,
        last_heartbeat=None,
        client_id=None,
        host=None,
        pid=None,
        runners=2,
        now=SAMPLE_NOW,
    )
    base.update(fields)
    return WorkerInfo(**base)


def _running(client: ClientInfo, heartbeat_age: float, uptime: float) -> dict[str, Any]:
    return dict(
        job_state=JobState.RUNNING,
        last_heartbeat=_ago(heartbeat_age),
        run_started_at=_ago(uptime),
        client_id=client.id,
        host=client.host,
        pid=client.pid,
    )


def sample_clients() -> list[ClientInfo]:
    def client(n: int, host: str, pid: int, queues: dict[str, int], **kw: Any) -> ClientInfo:
        fields: dict[str, Any] = dict(
            id=f"c{n:02d}-{host}-{pid}",
            host=host,
            pid=pid,
            queues=queues,
            kinds=["send_email", "resize_image"],
            persistent=["feed-poller", "ledger-reconciler", "search-indexer", "stream-consumer"],
            started_at=_ago(11_520 + n * 600),
            heartbeat_at=_ago(1),
            stopped_at=None,
            alive=True,
            is_leader=False,
            version="0.1.0",
        )
        fields.update(kw)
        return ClientInfo(**fields)

    return [
        client(1, "worker-a", 4123, {"default": 10, "mail": 2, "persistent": 4}, is_leader=True),
        client(2, "worker-b", 981, {"default": 10, "media": 4, "persistent": 4}),
        client(3, "worker-c", 5512, {"media": 4}, heartbeat_at=_ago(134), alive=False),
    ]


def sample_workers(clients: list[ClientInfo]) -> list[WorkerInfo]:
    a, b, _ = clients
    return [
        _worker(
            "feed-poller",
            WorkerStatus.RUNNING,
            config={"url": "https://feeds.example.com/orders", "interval_s": 5, "batch_size": 200},
            config_version=3,
            config_schema=FEED_SCHEMA,
            runs=14,
            restarts=2,
            progress={"fetched": 18_234, "lag_s": 0.4},
            job_id=90_211,
            **_running(a, heartbeat_age=1, uptime=11_532),
        ),
        _worker(
            "ledger-reconciler",
            WorkerStatus.BACKING_OFF,
            config={"since": "2026-03-01"},
            runs=9,
            restarts=8,
            consecutive_failures=3,
            last_error="ConnectionResetError: ledger API closed the connection",
            last_error_at=_ago(21),
            next_run_at=SAMPLE_NOW + timedelta(seconds=8),
        ),
        _worker(
            "search-indexer",
            WorkerStatus.STALE,
            runs=3,
            restarts=1,
            progress={"indexed": 5_120},
            job_id=90_187,
            **_running(b, heartbeat_age=12, uptime=2_710),
        ),
        _worker(
            "stream-consumer",
            WorkerStatus.STOPPING,
            enabled=False,
            runs=1,
            progress={"offset": 771_204},
            job_id=90_150,
            **_running(b, heartbeat_age=0.5, uptime=48_300),
        ),
        _worker("thumbnail-sweeper", WorkerStatus.STOPPED, runs=41, restarts=0),
        _worker("report-builder", WorkerStatus.NO_CLIENT, runners=0, runs=0),
    ]


def sample_queues() -> list[QueueCounts]:
    s = JobState
    return [
        QueueCounts(
            "default",
            {
                s.AVAILABLE: 1_284,
                s.SCHEDULED: 42,
                s.RUNNING: 20,
                s.RETRYABLE: 3,
                s.COMPLETED: 1_240_000,
                s.CANCELLED: 17,
                s.DISCARDED: 2,
            },
            frozenset({s.COMPLETED}),
        ),
        QueueCounts(
            "mail",
            {s.AVAILABLE: 310, s.SCHEDULED: 5, s.COMPLETED: 8_712, s.DISCARDED: 1},
            paused=True,
        ),
        QueueCounts(
            "media",
            {s.AVAILABLE: 12, s.RUNNING: 4, s.RETRYABLE: 1, s.COMPLETED: 3_306, s.CANCELLED: 4},
        ),
        QueueCounts("persistent", {s.RUNNING: 3, s.SCHEDULED: 1, s.CANCELLED: 6}),
    ]


def sample_throughput() -> list[int]:
    """Sixty seconds of completed jobs per second: a steady wave with one dip."""
    return [
        0 if 38 <= i <= 40 else round(24 + 10 * math.sin(i / 4) + 4 * math.sin(i / 1.3))
        for i in range(60)
    ]


def sample_overview() -> Overview:
    clients = sample_clients()
    leader = clients[0]
    return Overview(
        now=SAMPLE_NOW,
        leader=LeaderInfo(leader.id, _ago(7_200), SAMPLE_NOW + timedelta(seconds=20), True),
        clients=clients,
        queues=sample_queues(),
        workers=sample_workers(clients),
        throughput=sample_throughput(),
        periodic=sample_periodic(SAMPLE_NOW),
    )


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
