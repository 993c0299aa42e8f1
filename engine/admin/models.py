"""Read models the admin API returns: what an operator (or the dashboard) sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.types import JobState


class WorkerStatus(StrEnum):
    RUNNING = "running"
    STARTING = "starting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    BACKING_OFF = "backing-off"
    STALE = "stale"
    NO_CLIENT = "no-client"  # enabled, but no live client defines this worker


@dataclass(frozen=True)
class QueueCounts:
    """Jobs of one queue per state; states in `estimated` are planner estimates."""

    queue: str
    counts: dict[JobState, int]
    estimated: frozenset[JobState] = frozenset()
    paused: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ClientInfo:
    id: str
    host: str
    pid: int
    queues: dict[str, int]
    kinds: list[str]
    persistent: list[str]
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    alive: bool
    is_leader: bool
    version: str


@dataclass(frozen=True)
class LeaderInfo:
    leader_id: str
    elected_at: datetime
    expires_at: datetime
    valid: bool


@dataclass(frozen=True)
class WorkerInfo:
    """A persistent worker: the operator's desired state and what its runner reports."""

    name: str
    enabled: bool
    status: WorkerStatus
    queue: str
    config: dict[str, Any]
    config_version: int
    config_schema: dict[str, Any] | None
    heartbeat_interval: float
    heartbeat_timeout: float
    runs: int
    restarts: int
    consecutive_failures: int
    last_error: str | None
    last_error_at: datetime | None
    progress: dict[str, Any] | None
    progress_at: datetime | None
    next_run_at: datetime
    run_started_at: datetime | None
    last_run_ended_at: datetime | None
    restart_requested_at: datetime | None
    updated_at: datetime
    updated_by: str | None
    job_id: int | None
    job_state: JobState | None
    last_heartbeat: datetime | None
    client_id: str | None
    host: str | None
    pid: int | None
    runners: int
    now: datetime
    # How the last run ended: returned, crash, stop, cancel, restart, config, shutdown.
    last_end_reason: str | None = None

    @property
    def keeps_ending(self) -> bool:
        """Its handler keeps returning by itself soon after it starts (so it backs off,
        as a crashing one does): a loop that forgot to loop until ctx.stopping."""
        return self.consecutive_failures > 0 and self.last_end_reason == "returned"

    @property
    def heartbeat_age(self) -> float | None:
        if self.last_heartbeat is None:
            return None
        return (self.now - self.last_heartbeat).total_seconds()

    @property
    def uptime(self) -> float | None:
        if self.status not in (WorkerStatus.RUNNING, WorkerStatus.STOPPING, WorkerStatus.STALE):
            return None
        if self.run_started_at is None:
            return None
        return max(0.0, (self.now - self.run_started_at).total_seconds())

    @property
    def where(self) -> str | None:
        if self.host is None:
            return None
        return f"{self.host}:{self.pid}"


@dataclass(frozen=True)
class PeriodicInfo:
    id: str
    kind: str
    schedule: str
    args: dict[str, Any]
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_job_id: int | None


@dataclass(frozen=True)
class Overview:
    """Everything the dashboard shows, read in one go."""

    now: datetime
    leader: LeaderInfo | None
    clients: list[ClientInfo]
    queues: list[QueueCounts]
    workers: list[WorkerInfo]
    throughput: list[int] = field(default_factory=list)  # completed per second, oldest first
    periodic: list[PeriodicInfo] = field(default_factory=list)
