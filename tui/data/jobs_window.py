"""Which jobs the jobs screen shows: newest first, a page at a time, down to a floor.

The list is live, and new jobs arrive at its top. A fixed-size window would
push rows off its bottom while the operator reads them, so the window reaches
down to a *floor*: the oldest job the operator paged to, or the job under the
cursor, whichever is older. Without either it is simply the newest page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from engine.admin import Job, JobState

PAGE = 50
# A window never holds more than this; the floor rises to keep it so.
MAX_ROWS = 500


@dataclass(frozen=True)
class JobFilter:
    """What the jobs screen lists: one queue (or every queue), a state, a kind (exact, or
    a prefix: "email.*"), and the `/` search: args and metadata it contains, an id, text."""

    queue: str | None = None
    state: JobState | None = None
    kind: str | None = None
    args: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    text: str | None = None
    job_id: int | None = None
    # Several states at once (the failures view: retryable and discarded); `state` wins.
    states: tuple[JobState, ...] = ()

    @property
    def searching(self) -> bool:
        return any(
            v is not None for v in (self.kind, self.args, self.metadata, self.text, self.job_id)
        )


# list_jobs(filter, before_id, limit): newest first, ids below before_id.
ReadJobs = Callable[[JobFilter, int | None, int], Awaitable[list[Job]]]


@dataclass(frozen=True)
class JobsPage:
    jobs: list[Job]  # newest first
    more: bool  # older jobs exist below the last one


async def read_window(
    read: ReadJobs, where: JobFilter, floor: int | None, below: int = 0
) -> JobsPage:
    """The newest page, every job down to `floor`, and `below` more under it (MAX_ROWS at most)."""
    jobs: list[Job] = []
    before: int | None = None
    more = True
    while more:
        # The first read is one page; further ones take bigger steps down.
        step = PAGE if not jobs else 4 * PAGE
        # One job past the step says whether older ones exist, without a count.
        batch = await read(where, before, step + 1)
        more = len(batch) > step
        jobs += batch[:step]
        if not jobs:
            return JobsPage([], False)
        if len(jobs) >= _wanted(jobs, floor, below) or len(jobs) >= MAX_ROWS:
            break
        before = jobs[-1].id
    keep = min(_wanted(jobs, floor, below), MAX_ROWS)
    return JobsPage(jobs[:keep], more or keep < len(jobs))


def _wanted(jobs: list[Job], floor: int | None, below: int) -> int:
    """How many of the newest jobs the window keeps, given those read so far."""
    above = sum(1 for j in jobs if j.id >= floor) if floor is not None else 0
    reached = floor is None or jobs[-1].id < floor or (below == 0 and jobs[-1].id == floor)
    # Until a job under the floor shows up, every job read so far is wanted, and more.
    return max(PAGE, above) + below if reached else len(jobs) + 1


def window_floor(paged_to: int | None, selected: int | None) -> int | None:
    """The lowest id the next read must reach: the operator's page or cursor."""
    marks = [m for m in (paged_to, selected) if m is not None]
    return min(marks) if marks else None
