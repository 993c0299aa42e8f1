"""Read models the admin API returns: what an operator (or the dashboard) sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.types import FINAL_STATES, Job, JobState


class WorkerStatus(StrEnum):
    RUNNING = "running"
    # Running, but its heartbeat is older than two intervals: not lost (yet).
    LATE = "late"
    STARTING = "starting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    BACKING_OFF = "backing-off"
    STALE = "stale"  # its heartbeat outlived the timeout: the run is lost, a rescue is due
    NO_CLIENT = "no-client"  # enabled, but no live client defines this worker


# The statuses of a worker whose run is running (its runner heartbeats, or did).
LIVE_RUN_STATUSES = (
    WorkerStatus.RUNNING,
    WorkerStatus.LATE,
    WorkerStatus.STOPPING,
    WorkerStatus.STALE,
)

# A heartbeat older than this many intervals is late (the status says so).
LATE_AFTER_INTERVALS = 2


@dataclass(frozen=True)
class QueueCounts:
    """One queue: its jobs per state (exact, as of the read), pause, live concurrency,
    and how it is doing: its oldest available job and its recent failures."""

    queue: str
    counts: dict[JobState, int]
    paused: bool = False
    # Slots per client set by an operator (None: each client's own, from its code).
    concurrency: int | None = None
    # When the oldest available job became due (None: nothing waits).
    oldest_available_at: datetime | None = None
    # Attempts finished over the last OUTCOME_WINDOW seconds: completed, failed
    # (retryable or discarded).
    completed_recently: int = 0
    failed_recently: int = 0
    now: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def latency(self) -> float | None:
        """Seconds the oldest available job has waited (None: none waits)."""
        if self.oldest_available_at is None or self.now is None:
            return None
        return max(0.0, (self.now - self.oldest_available_at).total_seconds())

    @property
    def failure_rate(self) -> float | None:
        """Failed attempts over all finished ones, recently (None: none finished)."""
        finished = self.completed_recently + self.failed_recently
        return self.failed_recently / finished if finished else None


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
        if self.status not in LIVE_RUN_STATUSES:
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
    """A durable schedule: its definition, what its last tick did, who can run its jobs."""

    id: str
    kind: str
    schedule: str
    args: dict[str, Any]
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_job_id: int | None
    # The last tick inserted its job ("inserted"), or met a live duplicate under
    # the job's own unique options and was skipped ("skipped"; last_job_id is it).
    last_outcome: str | None = None
    skips: int = 0
    last_job_state: JobState | None = None
    queue: str | None = None
    # Live clients that register the kind and work the queue; 0: nobody runs
    # its jobs (None: not known, as in sample data).
    runners: int | None = None
    last_error: str | None = None  # why no leader can keep it (an unreadable row)

    @property
    def note(self) -> str | None:
        """What an operator should know about it, in one line (None: all is well)."""
        if self.last_error is not None:
            return f"not kept: {self.last_error}"
        if self.runners == 0:
            return f"no live client runs kind {self.kind} in queue {self.queue}"
        if self.last_outcome == "skipped" and self.last_job_id is not None:
            if self.last_job_state is None or self.last_job_state not in FINAL_STATES:
                return f"skipped: job {self.last_job_id} still live"
            return f"skipped: job {self.last_job_id} ({self.last_job_state}) holds its unique key"
        return None


@dataclass(frozen=True)
class RunningJobInfo:
    """A running job with its lease: how long it has run, its heartbeat, and where.

    A long job (River's recipe: a periodic job whose handler loops) is alive while
    its heartbeat is younger than its heartbeat timeout; after that the leader's
    rescuer takes it back and it runs elsewhere.
    """

    job: Job
    heartbeat_timeout: float | None  # seconds; None for a row made by hand
    client_id: str | None
    host: str | None
    pid: int | None
    now: datetime

    @property
    def running_for(self) -> float | None:
        if self.job.attempted_at is None:
            return None
        return max(0.0, (self.now - self.job.attempted_at).total_seconds())

    @property
    def heartbeat_age(self) -> float | None:
        if self.job.heartbeat_at is None:
            return None
        return max(0.0, (self.now - self.job.heartbeat_at).total_seconds())

    @property
    def stale(self) -> bool:
        """Its heartbeat outlived its timeout: the runner is gone, a rescue is due."""
        age, timeout = self.heartbeat_age, self.heartbeat_timeout
        return age is not None and timeout is not None and age > timeout

    @property
    def where(self) -> str | None:
        if self.host is None:
            return None
        return f"{self.host}:{self.pid}"

    @property
    def periodic_id(self) -> str | None:
        """The schedule that inserted it, if one did."""
        value = self.job.metadata.get("periodic_id")
        return value if isinstance(value, str) else None


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
    # Jobs running for longer than LONG_RUNNING seconds, longest first (a few).
    long_running: list[RunningJobInfo] = field(default_factory=list)


# The orders a page of jobs can come in, newest first.
JOB_ORDERS = ("created", "scheduled", "finalized")


@dataclass(frozen=True)
class JobQuery:
    """Which jobs an operator looks at: every field narrows (None or empty: any)."""

    queue: str | None = None
    states: tuple[JobState, ...] = ()
    # A kind exactly, or every kind that starts with a prefix: "email.*".
    kind: str | None = None
    job_id: int | None = None
    # Containment: jobs whose args (metadata) hold these keys with these values.
    args: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    # Free text anywhere in the args' JSON (case-insensitive; not from an index).
    text: str | None = None
    order: str = "created"

    @property
    def indexed(self) -> bool:
        """Every filter is served by an index (queue, state, kind, id; args by containment)."""
        return self.text is None


@dataclass(frozen=True)
class BulkStep:
    """One batch of a bulk action: what it did, and where the next batch starts."""

    acted: int  # jobs changed (cancelled, retried, deleted)
    skipped: int  # matched but left alone: running, locked by a worker, or a unique key held
    next_below: int | None  # the next batch takes ids below this; None: nothing is left


@dataclass(frozen=True)
class FailureGroup:
    """Failed jobs (retryable and discarded) of one kind with the same last error."""

    kind: str
    error: str
    jobs: int
    retryable: int
    discarded: int
    queues: list[str]
    last_failed_at: datetime
    newest_id: int


@dataclass(frozen=True)
class JobCount:
    """How many jobs a query matches: exact, or at least `n` when counting stopped at a cap."""

    n: int
    exact: bool = True
