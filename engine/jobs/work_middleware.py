"""Work middleware: what wraps each attempt of a job, and how the attempt still ends (once,
recorded) whatever a middleware does.

A client's work middleware run around every attempt its executor makes, the
first registered outermost. Each is `work(job, call_next)`: code before
`await call_next()` runs before the handler (in the job's own task, so a
contextvar set there reaches the handler, sync ones in their thread too), and
`call_next()` returns a JobResult saying how the attempt ended. A middleware
that raises (before or after call_next) makes its exception the attempt's: a
JobSnooze snoozes, a JobCancel cancels, anything else is a failed attempt,
retried with backoff; the middleware outside it see that as their JobResult.
One that returns without calling on skips the handler: the job completes. Its
return value is ignored. Persistent runs are not attempts: they have hooks of
their own (engine/persistent/hooks.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from engine.jobs.executor import (
    Outcome,
    RunningJob,
    StopReason,
    returned,
    run_handler,
    settle,
    unknown_kind,
)
from engine.jobs.kinds import JobKind
from engine.jobs.retry import RetryBackoff
from engine.types import Job, JobState


@dataclass(frozen=True)
class JobResult:
    """How an attempt ended, as `call_next()` tells a work middleware.

    `state` is what the job becomes: COMPLETED, RETRYABLE (failed, runs again
    after `retry_in` seconds), SCHEDULED (snoozed for `retry_in` seconds),
    CANCELLED or DISCARDED (failed with its attempts spent); None when the
    job's lease was lost (it was rescued or changed elsewhere: nothing of this
    attempt is recorded). `error` is the exception that ended it, if one did;
    `message` is what was recorded in the job's errors.
    """

    state: JobState | None
    error: BaseException | None = None
    message: str | None = None
    retry_in: float | None = None

    @property
    def lease_lost(self) -> bool:
        return self.state is None

    @property
    def snoozed(self) -> bool:
        return self.state is JobState.SCHEDULED


NextWork = Callable[[], Awaitable[JobResult]]
# A registered middleware's bound `work` method.
WorkHook = Callable[[Job, NextWork], Awaitable[object]]


class WorkMiddleware(Protocol):
    """Wraps each attempt of every job this client runs (see engine/jobs/work_middleware.py)."""

    async def work(self, job: Job, call_next: NextWork) -> object: ...


def job_result(outcome: Outcome | None, error: BaseException | None) -> JobResult:
    """The public view of an outcome and the exception behind it."""
    if outcome is None:
        return JobResult(None, error, StopReason.LEASE_LOST.value)
    entry = outcome.error
    message = entry["error"] if entry is not None else None
    return JobResult(outcome.state, error, message, outcome.delay)


class _Attempt:
    """One attempt run through a chain of work middleware: how it ended so far."""

    __slots__ = (
        "backoff",
        "called",
        "hooks",
        "job",
        "kind",
        "known_kinds",
        "outcome",
        "result",
        "running",
    )

    def __init__(
        self,
        hooks: Sequence[WorkHook],
        job: Job,
        kind: JobKind | None,
        running: RunningJob,
        backoff: RetryBackoff,
        known_kinds: Callable[[], list[str]],
    ) -> None:
        self.hooks = hooks
        self.job = job
        self.kind = kind
        self.running = running
        self.backoff = backoff
        self.known_kinds = known_kinds
        self.called = False
        self.outcome: Outcome | None = None
        self.result: JobResult | None = None

    def _ended(self, outcome: Outcome | None, error: BaseException | None) -> JobResult:
        self.outcome = outcome
        self.result = job_result(outcome, error)
        return self.result

    async def next(self, index: int) -> JobResult:
        """Run middleware `index` around the rest; how the attempt ended once it returned.

        An exception out of it is the attempt's (settle re-raises only a cancellation
        that is not ours); one that never called on skipped the handler, and the job
        completes. So every middleware outside it sees a JobResult, never an error.
        """
        if index == len(self.hooks):
            return await self.handler()
        try:
            await self.hooks[index](self.job, partial(self.next, index + 1))
        except BaseException as exc:
            return self._ended(settle(self.job, self.kind, self.running, self.backoff, exc), exc)
        if self.result is None:
            return self._ended(returned(self.job, self.running), None)
        return self.result

    async def handler(self) -> JobResult:
        if self.called:
            raise RuntimeError("call_next() was called twice for one attempt")
        self.called = True
        if self.kind is None:
            return self._ended(unknown_kind(self.job, self.backoff, self.known_kinds), None)
        try:
            await run_handler(self.kind, self.job)
        except BaseException as exc:
            return self._ended(settle(self.job, self.kind, self.running, self.backoff, exc), exc)
        return self._ended(returned(self.job, self.running), None)


async def execute_through(
    hooks: Sequence[WorkHook],
    job: Job,
    kind: JobKind | None,
    running: RunningJob,
    backoff: RetryBackoff,
    known_kinds: Callable[[], list[str]],
) -> Outcome | None:
    """Run the job's handler inside its middleware; the Outcome to record, or None when
    the lease is gone. A middleware's exception is the attempt's (never lost)."""
    attempt = _Attempt(hooks, job, kind, running, backoff, known_kinds)
    await attempt.next(0)
    if running.stop_reason is StopReason.LEASE_LOST:
        return None  # whatever the middleware made of it, the job is someone else's now
    return attempt.outcome
