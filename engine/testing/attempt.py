"""One attempt of a job, run the way a started client runs it (its work middleware and the
executor's reading of what the handler did), with the inserts it makes recorded."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.jobs.executor import Outcome, RunningJob
from engine.jobs.insert_params import InsertParams
from engine.jobs.insert_recorder import current_recorder
from engine.jobs.kinds import JobKind
from engine.jobs.retry import RetryBackoff
from engine.jobs.work_middleware import JobResult, NextWork, WorkHook, execute_through
from engine.testing.outcome import JobOutcome
from engine.types import InsertResult, Job, JobState


@dataclass
class Inserts:
    """Every job a handler inserted through a client during its attempt.

    Replacing the writes (no database), each row becomes the Job it would be,
    with ids counting down from -1 so they can never be taken for real ones.
    """

    replaces: bool
    jobs: list[Job] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fake(self, rows: Sequence[InsertParams]) -> Sequence[InsertResult]:
        results = [InsertResult(self._job_of(row)) for row in rows]
        self.jobs.extend(r.job for r in results)
        return results

    def written(self, results: Sequence[InsertResult]) -> None:
        self.jobs.extend(r.job for r in results if not r.duplicate)

    def _job_of(self, row: InsertParams) -> Job:
        t = row.template
        now = datetime.now(UTC)
        later = t.scheduled_at is not None and t.scheduled_at > now
        return Job(
            id=-next(self._ids),
            kind=t.kind,
            args=json.loads(row.args_json),  # what the database would hand back
            queue=t.queue,
            priority=t.priority,
            state=JobState.SCHEDULED if later else JobState.AVAILABLE,
            attempt=0,
            max_attempts=t.max_attempts,
            created_at=now,
            scheduled_at=t.scheduled_at or now,
            metadata=dict(t.metadata),
            tags=list(t.tags),
        )


async def run_attempt(
    job: Job,
    kind: JobKind | None,
    *,
    hooks: Sequence[WorkHook],
    backoff: RetryBackoff,
    known_kinds: Callable[[], list[str]],
    replace_inserts: bool,
) -> tuple[Outcome | None, JobOutcome]:
    """Run one attempt; the Outcome the completer would write, and what the test sees."""
    seen: list[JobResult] = []

    async def observe(job: Job, call_next: NextWork) -> None:
        # Outermost: every inner middleware's and the handler's doing arrives as a JobResult.
        seen.append(await call_next())

    inserts = Inserts(replaces=replace_inserts)
    token = current_recorder.set(inserts)
    try:
        outcome = await execute_through(
            (observe, *hooks), job, kind, RunningJob(job), backoff, known_kinds
        )
    finally:
        current_recorder.reset(token)
    (result,) = seen
    assert result.state is not None  # no lease here to lose
    return outcome, JobOutcome(
        job=job,
        state=result.state,
        error=result.error,
        message=result.message,
        retry_in=result.retry_in,
        inserted=inserts.jobs,
    )
