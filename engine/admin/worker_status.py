"""A persistent worker's status, as a pure function of its row, its live run and the clock."""

from __future__ import annotations

from datetime import datetime

from engine.admin.models import LATE_AFTER_INTERVALS, WorkerStatus
from engine.types import JobState


def worker_status(
    *,
    enabled: bool,
    job_state: JobState | None,
    last_heartbeat: datetime | None,
    heartbeat_timeout: float,
    heartbeat_interval: float,
    consecutive_failures: int,
    next_run_at: datetime,
    runners: int,
    now: datetime,
) -> WorkerStatus:
    if job_state is JobState.RUNNING:
        age = (now - last_heartbeat).total_seconds() if last_heartbeat else float("inf")
        if age > heartbeat_timeout:
            # Shown at once, before the rescuer has acted on it.
            return WorkerStatus.STALE
        if not enabled:
            return WorkerStatus.STOPPING
        if age > LATE_AFTER_INTERVALS * heartbeat_interval:
            # Before it counts as lost, an operator sees that it missed its beats.
            return WorkerStatus.LATE
        return WorkerStatus.RUNNING
    if not enabled:
        return WorkerStatus.STOPPED
    if runners == 0:
        return WorkerStatus.NO_CLIENT
    if consecutive_failures > 0 and (
        job_state in (JobState.SCHEDULED, JobState.RETRYABLE)
        or (job_state is None and next_run_at > now)
    ):
        return WorkerStatus.BACKING_OFF
    return WorkerStatus.STARTING
