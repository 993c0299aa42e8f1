"""When a failed job runs again: a pure function of the job."""

from __future__ import annotations

import random
from collections.abc import Callable

from engine.types import Job

RetryBackoff = Callable[[Job], float]


def default_backoff(job: Job) -> float:
    """About attempt**4 seconds (1, 16, 81, 256, ...), with up to 10% jitter, capped at a day."""
    base = float(min(job.attempt, 100) ** 4)
    return min(base + random.uniform(0, base * 0.1), 86_400.0)
