"""How one attempt of a job ended, as the testing helpers report it."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.types import Job, JobState


@dataclass(frozen=True)
class JobOutcome:
    """One attempt of `job`: what the job became, the exception that ended it, and the jobs
    its handler inserted through the client while it ran.

    `state` is COMPLETED, SCHEDULED (snoozed for `snoozed_for` seconds), CANCELLED
    (a JobCancel), RETRYABLE (failed; runs again after `retry_in` seconds) or
    DISCARDED (failed with its attempts spent). `message` is what pqw records in
    the job's errors ("ValueError: bad address"), `error` the exception itself.
    """

    job: Job
    state: JobState
    error: BaseException | None = None
    message: str | None = None
    retry_in: float | None = None
    inserted: list[Job] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.state is JobState.COMPLETED

    @property
    def snoozed(self) -> bool:
        return self.state is JobState.SCHEDULED

    @property
    def snoozed_for(self) -> float | None:
        """Seconds until a snoozed job runs again; None when it did not snooze."""
        return self.retry_in if self.snoozed else None

    @property
    def cancelled(self) -> bool:
        return self.state is JobState.CANCELLED

    @property
    def failed(self) -> bool:
        """The attempt raised: the job is retried (RETRYABLE) or, attempts spent, DISCARDED."""
        return self.state in (JobState.RETRYABLE, JobState.DISCARDED)

    @property
    def discarded(self) -> bool:
        return self.state is JobState.DISCARDED

    def __str__(self) -> str:
        how = self.state.value
        if self.snoozed:
            how = f"snoozed for {self.snoozed_for:g}s"
        elif self.message:
            how = f"{how} ({self.message})"
        return f"job {self.job.id} {self.job.kind}: {how}"
