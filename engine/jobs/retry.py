"""When a failed job runs again: a pure function of the job."""

from __future__ import annotations

import random
from collections.abc import Callable

from engine.errors import InvalidJobType
from engine.types import Job

RetryBackoff = Callable[[Job], float]


def default_backoff(job: Job) -> float:
    """About attempt**4 seconds (1, 16, 81, 256, ...), with up to 10% jitter, capped at a day."""
    base = float(min(job.attempt, 100) ** 4)
    return min(base + random.uniform(0, base * 0.1), 86_400.0)


def checked_backoff(backoff: object, what: str) -> RetryBackoff | None:
    """`backoff` if it is a function (or None); a clear error now rather than at a failure."""
    if backoff is not None and not callable(backoff):
        raise InvalidJobType(f"{what} must be a function of the job, got {type(backoff).__name__}")
    return backoff
