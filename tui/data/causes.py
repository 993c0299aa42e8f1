"""The failures view's causes: failed jobs by kind and last error, and how exact that is."""

from __future__ import annotations

from dataclasses import dataclass

from engine.admin import FAILURES_SCANNED, AdminApi, FailureGroup, JobQuery
from tui.data.search import FAILURES


@dataclass(frozen=True)
class Causes:
    """The groups, and how many failures there are in all (exact, from the counts)."""

    groups: list[FailureGroup]
    failures: int

    def title(self) -> str:
        """How exact the groups are, in words: every failure, or the newest of them."""
        if self.failures <= FAILURES_SCANNED:
            return f"Causes · all {self.failures:,} failures by kind and last error"
        return (
            f"Causes · the newest {FAILURES_SCANNED:,} of {self.failures:,} failures"
            " by kind and last error"
        )


# Failures by cause are read at most this often (seconds): a bounded but not a tiny read.
CAUSES_EVERY = 5.0


async def read_causes(admin: AdminApi, queue: str | None) -> Causes:
    """The failures of `queue` (or every queue) by cause, and how many there are in all."""
    groups = await admin.failure_groups(queue)
    failures = await admin.count_jobs(JobQuery(queue=queue, states=FAILURES))
    return Causes(groups, failures.n)
