"""The values that cross pqw's boundaries: job states, jobs, insert options, outcomes users raise."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    AVAILABLE = "available"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    RETRYABLE = "retryable"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    DISCARDED = "discarded"
    PENDING = "pending"


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.CANCELLED, JobState.DISCARDED})


def _json_value(value: Any) -> Any:
    # Values decoded by pqw's codec arrive as Python objects; a caller's plain
    # asyncpg connection hands jsonb back as text.
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Job:
    """One job as stored in pqw_job."""

    id: int
    kind: str
    args: dict[str, Any]
    queue: str
    priority: int
    state: JobState
    attempt: int
    max_attempts: int
    created_at: datetime
    scheduled_at: datetime
    attempted_at: datetime | None = None
    finalized_at: datetime | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    attempted_by: list[str] = field(default_factory=list)
    heartbeat_at: datetime | None = None

    @classmethod
    def from_record(cls, row: Mapping[str, Any]) -> Job:
        return cls(
            id=row["id"],
            kind=row["kind"],
            args=_json_value(row["args"]),
            queue=row["queue"],
            priority=row["priority"],
            state=JobState(row["state"]),
            attempt=row["attempt"],
            max_attempts=row["max_attempts"],
            created_at=row["created_at"],
            scheduled_at=row["scheduled_at"],
            attempted_at=row["attempted_at"],
            finalized_at=row["finalized_at"],
            errors=_json_value(row["errors"]),
            metadata=_json_value(row["metadata"]),
            tags=list(row["tags"]),
            attempted_by=list(row["attempted_by"]),
            heartbeat_at=row["heartbeat_at"],
        )


@dataclass(frozen=True)
class UniqueOpts:
    """What makes two jobs duplicates of each other; see engine/unique.py."""

    by_args: bool | Sequence[str] = False
    by_period: timedelta | None = None
    by_queue: bool = False
    by_state: Sequence[JobState] | None = None


@dataclass(frozen=True)
class InsertOpts:
    """Insert options; None means "not set here" so layers can be merged."""

    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None
    scheduled_at: datetime | None = None
    tags: Sequence[str] | None = None
    metadata: Mapping[str, Any] | None = None
    unique: UniqueOpts | None = None

    def merged_with(self, override: InsertOpts | None) -> InsertOpts:
        """These options with every field set in override taking its place."""
        if override is None:
            return self
        changes = {
            f.name: getattr(override, f.name)
            for f in fields(override)
            if getattr(override, f.name) is not None
        }
        return replace(self, **changes)


@dataclass(frozen=True)
class JobSpec:
    """One job for insert_many."""

    kind: str
    args: Mapping[str, Any]
    opts: InsertOpts | None = None


class InsertResult:
    """What an insert produced: the job (or the live duplicate it met) and whether it was one.

    A result made from a database row decodes that row into a Job on first
    access, so reading only `duplicate` across a large batch stays cheap.
    """

    __slots__ = ("_job", "_record", "duplicate")

    def __init__(
        self,
        job: Job | None = None,
        duplicate: bool = False,
        *,
        record: Mapping[str, Any] | None = None,
    ) -> None:
        if job is None and record is None:
            raise TypeError("InsertResult needs a job or the row it comes from")
        self._job = job
        self._record = record
        self.duplicate = duplicate

    @property
    def job(self) -> Job:
        if self._job is None:
            assert self._record is not None
            self._job = Job.from_record(self._record)
            self._record = None
        return self._job

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InsertResult):
            return NotImplemented
        return (self.job, self.duplicate) == (other.job, other.duplicate)

    def __hash__(self) -> int:
        return hash((self.job.id, self.duplicate))

    def __repr__(self) -> str:
        return f"InsertResult(job={self.job!r}, duplicate={self.duplicate})"


class JobSnooze(Exception):
    """Raise from a handler to run the job again after `seconds`, without spending an attempt."""

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"snooze seconds must be >= 0, got {seconds}")
        super().__init__(f"snoozed for {seconds}s")
        self.seconds = float(seconds)


class JobCancel(Exception):
    """Raise from a handler to cancel the job now: no more attempts."""

    def __init__(self, reason: str = "cancelled by handler") -> None:
        super().__init__(reason)
        self.reason = reason
