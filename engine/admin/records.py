"""The read models, built from the rows the admin's queries return."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.admin.models import (
    ClientInfo,
    PeriodicInfo,
    QueueCounts,
    RunningJobInfo,
    WorkerInfo,
)
from engine.admin.worker_status import worker_status
from engine.types import Job, JobState


def client_info(r: Mapping[str, Any]) -> ClientInfo:
    return ClientInfo(
        id=r["id"],
        host=r["host"],
        pid=r["pid"],
        queues=r["queues"],
        kinds=list(r["kinds"]),
        persistent=list(r["persistent"]),
        started_at=r["started_at"],
        heartbeat_at=r["heartbeat_at"],
        stopped_at=r["stopped_at"],
        alive=r["alive"],
        is_leader=r["is_leader"],
        version=r["version"],
    )


def periodic_info(r: Mapping[str, Any]) -> PeriodicInfo:
    return PeriodicInfo(
        id=r["id"],
        kind=r["kind"],
        schedule=r["schedule"],
        args=r["args"],
        enabled=r["enabled"],
        next_run_at=r["next_run_at"],
        last_run_at=r["last_run_at"],
        last_job_id=r["last_job_id"],
        last_outcome=r["last_outcome"],
        skips=r["skips"],
        last_job_state=JobState(r["last_job_state"]) if r["last_job_state"] else None,
        queue=r["queue"],
        runners=r["runners"],
        last_error=r["last_error"],
    )


def worker_info(r: Mapping[str, Any]) -> WorkerInfo:
    job_state = JobState(r["job_state"]) if r["job_state"] else None
    timeout = float(r["heartbeat_timeout_s"])
    last_heartbeat = r["job_heartbeat_at"] if job_state is JobState.RUNNING else None
    status = worker_status(
        enabled=r["enabled"],
        job_state=job_state,
        last_heartbeat=last_heartbeat,
        heartbeat_timeout=timeout,
        heartbeat_interval=float(r["heartbeat_interval_s"]),
        consecutive_failures=r["consecutive_failures"],
        next_run_at=r["next_run_at"],
        runners=r["runners"],
        now=r["now"],
    )
    running = job_state is JobState.RUNNING
    return WorkerInfo(
        name=r["name"],
        enabled=r["enabled"],
        status=status,
        queue=r["queue"],
        config=r["config"],
        config_version=r["config_version"],
        config_schema=r["config_schema"],
        heartbeat_interval=float(r["heartbeat_interval_s"]),
        heartbeat_timeout=timeout,
        runs=r["runs"],
        restarts=r["restarts"],
        consecutive_failures=r["consecutive_failures"],
        last_error=r["last_error"],
        last_error_at=r["last_error_at"],
        progress=r["progress"],
        progress_at=r["progress_at"],
        next_run_at=r["next_run_at"],
        run_started_at=r["run_started_at"],
        last_run_ended_at=r["last_run_ended_at"],
        restart_requested_at=r["restart_requested_at"],
        updated_at=r["updated_at"],
        updated_by=r["updated_by"],
        job_id=r["job_id"],
        job_state=job_state,
        last_heartbeat=last_heartbeat,
        client_id=r["runner_id"] if running else None,
        host=r["host"] if running else None,
        pid=r["pid"] if running else None,
        runners=r["runners"],
        now=r["now"],
        last_end_reason=r["last_end_reason"],
    )


def running_job_info(r: Mapping[str, Any]) -> RunningJobInfo:
    return RunningJobInfo(
        job=Job.from_record(r),
        heartbeat_timeout=r["heartbeat_timeout_s"],
        client_id=r["runner_id"],
        host=r["host"],
        pid=r["pid"],
        now=r["now"],
    )


def queue_counts(r: Mapping[str, Any]) -> QueueCounts:
    return QueueCounts(
        queue=r["queue"],
        counts={JobState(state): int(n) for state, n in r["counts"].items()},
        paused=r["paused"],
        concurrency=r["concurrency"],
        oldest_available_at=r["oldest_available_at"],
        completed_recently=int(r["completed"]),
        failed_recently=int(r["failed"]),
        now=r["now"],
    )
