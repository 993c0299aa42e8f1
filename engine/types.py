"""The values that cross pqw's boundaries: job states, jobs, insert options, outcomes users raise."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
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


# A state's name as stored -> the state (a dict lookup; JobState(name) costs a call).
_STATE_OF = {state.value: state for state in JobState}
FINAL_STATES = frozenset({JobState.COMPLETED, JobState.CANCELLED, JobState.DISCARDED})


def _json_value(value: Any) -> Any:
    # Values decoded by pqw's codec arrive as Python objects; a caller's plain
    # asyncpg connection hands jsonb back as text.
    return json.loads(value) if isinstance(value, str) else value


# Guards every StopSignal: setting one (event loop) races waiting on it (a thread).
_signal_lock = threading.Lock()


class StopSignal:
    """Whether a running job is asked to stop and why; awaitable, and waitable from a thread.

    Its threading.Event is made only when a sync handler asks for it, so the
    many Jobs that never run (inserts, admin reads) cost nothing extra.
    """

    __slots__ = ("_event", "_waiters", "reason")

    def __init__(self) -> None:
        self.reason: str | None = None
        self._event: threading.Event | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def __deepcopy__(self, memo: object) -> StopSignal:
        return StopSignal()  # a copy of a job's data is not the running job

    def event(self) -> threading.Event:
        with _signal_lock:
            if self._event is None:
                self._event = threading.Event()
                if self.reason is not None:
                    self._event.set()
            return self._event

    def set(self, reason: str) -> None:
        """Ask to stop (the first reason wins); wakes every waiter, in any thread."""
        with _signal_lock:
            if self.reason is not None:
                return
            self.reason = reason
            event, waiters, self._waiters = self._event, self._waiters, []
        if event is not None:
            event.set()
        for waiter in waiters:
            # A closed loop (RuntimeError) has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)

    async def wait(self, timeout: float | None = None) -> bool:
        """True once asked to stop; False if `timeout` seconds passed first."""
        waiter = asyncio.get_running_loop().create_future()
        with _signal_lock:
            if self.reason is not None:
                return True
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
            return True
        except TimeoutError:
            return self.reason is not None
        finally:
            with _signal_lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass(frozen=True)
class Job:
    """One job as stored in pqw_job; while it runs, also whether it should stop.

    The stop signal is no part of the job's value: two Jobs with the same data
    are equal and print alike, whichever of them is running.
    """

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
    _stop: StopSignal = field(
        default_factory=StopSignal, init=False, repr=False, compare=False, hash=False
    )

    @property
    def stopping(self) -> bool:
        """True once this job should end: its client is stopping (SIGTERM, `client.stop()`),
        an operator cancelled it, or its heartbeat lease was lost. Return soon."""
        return self._stop.reason is not None

    @property
    def stop_reason(self) -> str | None:
        """Why it should end: "shutdown", "cancel", "lease lost" or "timeout"; None while it should not."""
        return self._stop.reason

    async def stopped(self) -> None:
        """Wait until this job should end."""
        await self._stop.wait()

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking at once when this job should end."""
        await self._stop.wait(max(0.0, seconds))

    @property
    def stop_event(self) -> threading.Event:
        """The same signal for a sync handler (it runs in a thread): `stop_event.wait(s)`
        sleeps up to s seconds and returns True once the job should end."""
        return self._stop.event()

    def _request_stop(self, reason: str) -> None:
        """Called by the runtime; the handler sees `stopping` (the first reason wins)."""
        self._stop.set(reason)

    @classmethod
    def from_record(cls, row: Mapping[str, Any]) -> Job:
        # A frozen dataclass's __init__ sets each field with object.__setattr__: most
        # of the time of this, which runs for every job fetched or read. Filling the
        # new object's __dict__ at once gives the same object (Job has no
        # __post_init__; tests hold that every field is set).
        job = object.__new__(cls)
        job.__dict__.update(
            id=row["id"],
            kind=row["kind"],
            args=_json_value(row["args"]),
            queue=row["queue"],
            priority=row["priority"],
            state=_STATE_OF[row["state"]],
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
            _stop=StopSignal(),
        )
        return job


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


# The longest a job may wait for its next attempt (a snooze, a retry's backoff). A
# later time is a mistake, not a plan, and past year 9999 Python cannot even read
# the row back: every list that met it failed.
MAX_DELAY_SECONDS = 10 * 365 * 86_400.0


def delay_error(seconds: object) -> str | None:
    """What is wrong with a delay before a job's next attempt, or None when it is good."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return f"must be a number of seconds, got {type(seconds).__name__}"
    if not 0 <= seconds <= MAX_DELAY_SECONDS:  # also refuses NaN
        return f"must be from 0 to {MAX_DELAY_SECONDS:.0f} seconds (10 years), got {seconds!r}"
    return None


class JobSnooze(Exception):
    """Raise from a handler to run the job again after `seconds`, without spending an attempt."""

    def __init__(self, seconds: float) -> None:
        error = delay_error(seconds)
        if error is not None:
            raise ValueError(f"snooze seconds {error}")
        super().__init__(f"snoozed for {seconds}s")
        self.seconds = float(seconds)


class JobCancel(Exception):
    """Raise from a handler to cancel the job now: no more attempts."""

    def __init__(self, reason: str = "cancelled by handler") -> None:
        super().__init__(reason)
        self.reason = reason
