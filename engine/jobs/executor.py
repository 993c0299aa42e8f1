"""Runs one job and turns what happened into an Outcome: the state change the completer will write."""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NamedTuple

from engine.db.storable import storable_text
from engine.jobs.kinds import JobKind
from engine.jobs.retry import RetryBackoff, default_backoff
from engine.types import Job, JobCancel, JobSnooze, JobState, delay_error

log = logging.getLogger("pqw.client")

TRACE_LIMIT = 8_000
# A handler's error message is recorded with every failed attempt (and shown in the
# dashboard): an exception carrying a whole payload is cut, not stored 25 times.
MESSAGE_LIMIT = 4_000


class Outcome(NamedTuple):
    """How an attempt ended, as the completer writes it (one is made for every attempt:
    a named tuple is made in a fraction of a frozen dataclass's time)."""

    job_id: int
    attempt: int
    state: JobState
    error: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    delay: float | None = None  # seconds until it may run again (retryable, scheduled)
    refund: int = 0  # 1 gives the attempt back (snooze)


class StopReason(Enum):
    """Why this client cancelled a running handler."""

    CANCEL_REQUESTED = "cancel requested by an operator"
    LEASE_LOST = "lease lost: the job was rescued or changed elsewhere"
    SHUTDOWN = "interrupted by client shutdown"

    @property
    def signal(self) -> str:
        """What the handler reads in `job.stop_reason`."""
        return _SIGNALS[self]


_SIGNALS = {
    StopReason.CANCEL_REQUESTED: "cancel",
    StopReason.LEASE_LOST: "lease lost",
    StopReason.SHUTDOWN: "shutdown",
}


@dataclass
class RunningJob:
    job: Job
    task: asyncio.Task[None] | None = None
    stop_reason: StopReason | None = None
    started: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def stop(self, reason: StopReason) -> None:
        """Cancel the handler, remembering why (the first reason wins). The job's stop
        signal is set first: a sync handler's thread, which no cancel reaches, sees it."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.job._request_stop(reason.signal)
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def ask_to_stop(self, why: str) -> None:
        """Tell the handler to end (`job.stopping`) without cancelling it: a graceful stop."""
        self.job._request_stop(why)


def error_entry(job: Job, message: str, trace: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "attempt": job.attempt,
        "at": datetime.now(UTC).isoformat(),
        # What the handler raised, storable whatever it holds (NUL, lone surrogates):
        # an outcome Postgres refused could never be recorded.
        "error": storable_text(message, MESSAGE_LIMIT),
    }
    if trace:
        entry["trace"] = storable_text(trace[-TRACE_LIMIT:], TRACE_LIMIT)
    return entry


def failure_outcome(
    job: Job, entry: dict[str, Any], backoff: RetryBackoff, *, retry_now: bool = False
) -> Outcome:
    """A failed attempt: retryable with backoff, or discarded once attempts are spent."""
    if job.attempt >= job.max_attempts:
        return Outcome(job.id, job.attempt, JobState.DISCARDED, error=entry)
    delay = 0.0 if retry_now else retry_delay(job, backoff)
    return Outcome(job.id, job.attempt, JobState.RETRYABLE, error=entry, delay=delay)


def retry_delay(job: Job, backoff: RetryBackoff) -> float:
    """The backoff's delay; the default one, with a warning, when it raises or is out of
    bounds: the attempt's outcome is recorded whatever the backoff does."""
    try:
        delay = backoff(job)
        error = delay_error(delay)
    except Exception as exc:
        error = f"raised {type(exc).__name__}: {exc}"
    if error is None:
        return float(delay)
    log.warning(
        "pqw: retry_backoff for job %d (%s) %s; the default backoff is used",
        job.id,
        job.kind,
        error,
    )
    return default_backoff(job)


async def call_handler(kind: JobKind, job: Job) -> None:
    if kind.is_async:
        result = kind.fn(job)
        if inspect.isawaitable(result):
            await result
    else:
        # Sync handlers run in a thread so they never block the event loop (and
        # with it heartbeats). asyncio.to_thread copies the context, so contextvars
        # set by a work middleware reach the thread.
        await asyncio.to_thread(kind.fn, job)


async def run_handler(kind: JobKind, job: Job) -> None:
    """Call the handler within its kind's timeout (if any)."""
    if kind.timeout is None:
        await call_handler(kind, job)
    elif kind.is_async:
        async with asyncio.timeout(kind.timeout):
            await call_handler(kind, job)
    else:
        await _run_thread_within(kind.timeout, kind, job)


async def _run_thread_within(timeout: float, kind: JobKind, job: Job) -> None:
    """A sync handler past its timeout is told to stop (job.stopping) and waited for.

    Python cannot end a thread. Were the attempt recorded at once, its retry could
    start (here or on another client) while the thread still ran: two copies of
    one job. Until the thread returns the job stays this client's, its lease
    heartbeated, and the attempt then fails as timed out whatever the thread did.
    """
    thread = asyncio.ensure_future(call_handler(kind, job))
    # Read here when no one awaits it any more (past its timeout, or this attempt
    # cancelled), so asyncio does not log its error as never retrieved.
    thread.add_done_callback(lambda done: done.cancelled() or done.exception())
    try:
        async with asyncio.timeout(timeout):
            await asyncio.shield(thread)
    except TimeoutError:
        job._request_stop("timeout")
        await asyncio.wait([thread])
        raise


async def execute(
    job: Job,
    kind: JobKind | None,
    running: RunningJob,
    backoff: RetryBackoff,
    known_kinds: Callable[[], list[str]],
) -> Outcome | None:
    """Run the job's handler; the Outcome to record, or None when the lease is gone."""
    if kind is None:
        return unknown_kind(job, backoff, known_kinds)
    try:
        await run_handler(kind, job)
    except BaseException as exc:
        return settle(job, kind, running, backoff, exc)
    return returned(job, running)


def unknown_kind(job: Job, backoff: RetryBackoff, known_kinds: Callable[[], list[str]]) -> Outcome:
    """A job no handler here runs: a failed attempt (another deployment may still run it)."""
    here = ", ".join(sorted(known_kinds())) or "none"
    entry = error_entry(
        job,
        f"unknown job kind {job.kind!r}: no handler is registered for it on this client "
        f"(kinds here: {here}); another deployment may still run it",
    )
    return failure_outcome(job, entry, backoff)


def returned(job: Job, running: RunningJob) -> Outcome | None:
    """The outcome of an attempt that returned: completed, unless its lease is gone."""
    if running.stop_reason is StopReason.LEASE_LOST:
        return None
    # An operator's cancel that the handler beat to the finish: it ran, so it completed.
    return Outcome(job.id, job.attempt, JobState.COMPLETED)


def settle(
    job: Job, kind: JobKind | None, running: RunningJob, backoff: RetryBackoff, exc: BaseException
) -> Outcome | None:
    """The outcome of an attempt that raised `exc` (from its handler or a work middleware).

    A cancellation that is not ours, and what is no Exception (KeyboardInterrupt),
    is raised again.
    """
    own_backoff = (kind.retry_backoff if kind is not None else None) or backoff
    if isinstance(exc, JobSnooze):
        return Outcome(
            job.id,
            job.attempt,
            JobState.SCHEDULED,
            delay=exc.seconds,
            refund=1,
            metadata={"snoozes": int(job.metadata.get("snoozes", 0)) + 1},
        )
    if isinstance(exc, JobCancel):
        entry = error_entry(job, f"JobCancel: {exc.reason}")
        return Outcome(job.id, job.attempt, JobState.CANCELLED, error=entry)
    if isinstance(exc, TimeoutError):
        timeout = kind.timeout if kind is not None else None
        if running.stop_reason is None and timeout is not None:
            job._request_stop("timeout")  # a sync handler's thread runs on: tell it
            entry = error_entry(job, f"timed out after {timeout:g}s")
            return failure_outcome(job, entry, own_backoff)
        return _failed(job, exc, own_backoff)
    if isinstance(exc, asyncio.CancelledError):
        reason = running.stop_reason
        if reason is None:
            raise exc  # not ours: let the loop's cancellation through
        return stopped_outcome(job, reason, own_backoff)
    if isinstance(exc, Exception):
        if running.stop_reason is not None:
            return stopped_outcome(job, running.stop_reason, own_backoff)
        return _failed(job, exc, own_backoff)
    raise exc


def _failed(job: Job, exc: BaseException, backoff: RetryBackoff) -> Outcome:
    message = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    return failure_outcome(job, error_entry(job, message, trace), backoff)


def stopped_outcome(job: Job, reason: StopReason, backoff: RetryBackoff) -> Outcome | None:
    if reason is StopReason.LEASE_LOST:
        return None
    entry = error_entry(job, reason.value)
    if reason is StopReason.CANCEL_REQUESTED:
        return Outcome(job.id, job.attempt, JobState.CANCELLED, error=entry)
    # Shutdown: the work was interrupted, not wrong; it may run again at once.
    return failure_outcome(job, entry, backoff, retry_now=True)
