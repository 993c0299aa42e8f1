"""How many jobs a bulk action's next batch takes: fewer after a slow batch, more after quick ones.

Each batch is one transaction that must end well inside the caller's own
timeout (the dashboard gives a call 10 s). On a quiet table a batch of 1,000
takes a fraction of a second; on a cold or busy one it can take seconds, and a
batch the database stopped (BulkBatchTooSlow) changed nothing, so the same
batch is tried again smaller. The size halves after a slow batch and doubles
back after quick ones, never above `most` nor below `least`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InvalidJobOption

BULK_BATCH = 1_000
LEAST_BATCH = 10
# A batch slower than this halves the next one; one quicker than QUICK lets it grow.
SLOW_SECONDS = 2.0
QUICK_SECONDS = 0.5


class BulkBatchTooSlow(InvalidJobOption):
    """The database stopped a batch at its time bound: nothing in it changed."""


@dataclass
class BatchPace:
    size: int = BULK_BATCH
    least: int = LEAST_BATCH
    most: int = BULK_BATCH

    def took(self, seconds: float) -> None:
        """A batch of `size` finished in `seconds`: set the next one's size."""
        if seconds > SLOW_SECONDS:
            self.size = max(self.least, self.size // 2)
        elif seconds < QUICK_SECONDS:
            self.size = min(self.most, self.size * 2)

    def shrink(self) -> bool:
        """After a batch that was stopped: halve; False when it is already the least."""
        if self.size <= self.least:
            return False
        self.size = max(self.least, self.size // 2)
        return True
