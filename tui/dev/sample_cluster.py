"""A fixed, made-up cluster for screenshots and snapshot tests: same pixels every run.

Every time, name, pid and count is a constant; `SAMPLE_NOW` is the frozen clock
the app is given alongside it. Its jobs and schedules are in sample_jobs.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.admin import (
    ClientInfo,
    Job,
    JobState,
    LeaderInfo,
    Overview,
    QueueCounts,
    RunningJobInfo,
    WorkerInfo,
    WorkerStatus,
)
from tui.dev.sample_jobs import sample_periodic

SAMPLE_NOW = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


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
            last_end_reason="crash",
        ),
        _worker(
            "inbox-sweeper",
            WorkerStatus.BACKING_OFF,
            runs=37,
            restarts=36,
            consecutive_failures=4,
            next_run_at=SAMPLE_NOW + timedelta(seconds=6),
            last_end_reason="returned",
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
            "search-router",
            WorkerStatus.LATE,
            runs=2,
            progress={"routed": 88_410},
            job_id=90_199,
            **_running(a, heartbeat_age=3, uptime=5_025),
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
                s.COMPLETED: 1_240_337,
                s.CANCELLED: 17,
                s.DISCARDED: 2,
            },
            oldest_available_at=_ago(4),
            completed_recently=8_412,
            failed_recently=9,
            now=SAMPLE_NOW,
        ),
        QueueCounts(
            "mail",
            {s.AVAILABLE: 310, s.SCHEDULED: 5, s.COMPLETED: 8_712, s.DISCARDED: 1},
            paused=True,
            oldest_available_at=_ago(754),
            completed_recently=0,
            now=SAMPLE_NOW,
        ),
        QueueCounts(
            "media",
            {s.AVAILABLE: 12, s.RUNNING: 4, s.RETRYABLE: 1, s.COMPLETED: 3_306, s.CANCELLED: 4},
            concurrency=2,
            oldest_available_at=_ago(38),
            completed_recently=61,
            failed_recently=19,
            now=SAMPLE_NOW,
        ),
        QueueCounts("persistent", {s.RUNNING: 3, s.SCHEDULED: 1, s.CANCELLED: 6}, now=SAMPLE_NOW),
    ]


def sample_long_running(clients: list[ClientInfo]) -> list[RunningJobInfo]:
    """Two long jobs: River's recipe loop heartbeating well, and one whose runner went quiet."""
    a, b, _ = clients

    def running(
        job_id: int,
        kind: str,
        queue: str,
        client: ClientInfo,
        ran: float,
        beat: float,
        **metadata: Any,
    ) -> RunningJobInfo:
        job = Job(
            id=job_id,
            kind=kind,
            args={"feed": "orders"} if kind == "feed.follow" else {"day": "2026-03-13"},
            queue=queue,
            priority=1,
            state=JobState.RUNNING,
            attempt=1,
            max_attempts=25,
            created_at=_ago(ran + 1),
            scheduled_at=_ago(ran + 1),
            attempted_at=_ago(ran),
            finalized_at=None,
            errors=[],
            metadata=metadata,
            tags=[],
            attempted_by=[client.id],
            heartbeat_at=_ago(beat),
        )
        return RunningJobInfo(job, 30.0, client.id, client.host, client.pid, SAMPLE_NOW)

    return [
        running(88_102, "feed.follow", "default", a, 26_400, 1, periodic_id="feed.follow"),
        running(90_044, "report.build", "default", b, 1_930, 41, periodic_id="report.build"),
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
        long_running=sample_long_running(clients),
    )
