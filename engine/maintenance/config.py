"""How the maintenance crew works: intervals, batch sizes, retention."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from engine.types import JobState

# A client that has not heartbeat for this long is not alive: the dashboard
# stops counting it and the leader marks it dead. (Clients heartbeat every
# job_heartbeat_interval, 2 s by default.)
CLIENT_DEAD_AFTER = 10.0


@dataclass(frozen=True)
class Retention:
    """How long finished jobs are kept; None keeps them forever."""

    completed: timedelta | None = timedelta(hours=24)
    cancelled: timedelta | None = timedelta(hours=24)
    discarded: timedelta | None = timedelta(days=7)

    def items(self) -> list[tuple[JobState, timedelta]]:
        pairs = [
            (JobState.COMPLETED, self.completed),
            (JobState.CANCELLED, self.cancelled),
            (JobState.DISCARDED, self.discarded),
        ]
        return [(state, keep) for state, keep in pairs if keep is not None]


@dataclass(frozen=True)
class MaintenanceConfig:
    leader_ttl: float = 3.0
    leader_renew_interval: float = 1.0
    schedule_interval: float = 0.5
    rescue_interval: float = 0.5
    clean_interval: float = 30.0
    # How often the job-count deltas are folded (the dashboard reads the rest).
    count_interval: float = 1.0
    clients_interval: float = 5.0
    batch_size: int = 1_000
    clean_batches_per_pass: int = 20
    retention: Retention = field(default_factory=Retention)
    throughput_retention: float = 3_600.0
    client_dead_after: float = CLIENT_DEAD_AFTER
    client_prune_after: float = 3_600.0
    # How the server bounds the leader's fenced transactions: None uses
    # transaction_timeout where the server has it (PostgreSQL 17+), False never
    # does (statement_timeout, lock_timeout and idle_in_transaction_session_timeout,
    # as on older servers), True insists on it.
    leader_transaction_timeout: bool | None = None
