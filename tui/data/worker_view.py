"""What the worker screen holds between reads: the last detail, the state (read again only
when its version moves), and the log lines seen so far (the newest, bounded)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from engine.admin import WorkerDetail, WorkerLogLine, WorkerState

# Log lines the screen keeps (the worker's ring in the database holds as many).
LOG_KEPT = 1_000
# Lines read at once: the first read takes the tail, later ones what came since.
FIRST_LINES = 200
LATER_LINES = 500


@dataclass
class WorkerView:
    """The worker screen's data, merged read by read."""

    name: str
    detail: WorkerDetail | None = None
    log: deque[WorkerLogLine] = field(default_factory=lambda: deque(maxlen=LOG_KEPT))
    # Lines that arrived in the last merge (the log tail appends only these).
    fresh: list[WorkerLogLine] = field(default_factory=list)
    # More lines came at once than one read takes: some in between were skipped.
    gap: bool = False

    @property
    def state_version(self) -> int | None:
        """The version of the state held (None: none read yet), so reads can leave it out."""
        return self.detail.state.version if self.detail is not None else None

    @property
    def last_seq(self) -> int | None:
        return self.log[-1].seq if self.log else None

    @property
    def lines_to_read(self) -> int:
        return FIRST_LINES if not self.log else LATER_LINES

    @property
    def state(self) -> WorkerState | None:
        return self.detail.state if self.detail is not None else None

    def merge(self, detail: WorkerDetail) -> None:
        """Take a new read: a state left out is the one held; new log lines are appended."""
        if not detail.state.included and self.detail is not None:
            detail = replace(detail, state=self.detail.state)
        last = self.last_seq
        fresh = [line for line in detail.log if last is None or line.seq > last]
        if last is not None and fresh and fresh[0].seq > last + 1 and len(fresh) >= LATER_LINES:
            self.gap = True
        self.log.extend(fresh)
        self.fresh = fresh
        self.detail = replace(detail, log=[])
