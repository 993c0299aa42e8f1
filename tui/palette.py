"""Rich styles for table cells, taken from the current Textual theme.

Cells are Rich Text, which cannot read CSS variables, so the colours are looked
up from the theme once per repaint; changing the theme repaints the tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.admin import WorkerStatus


@dataclass(frozen=True)
class Palette:
    good: str = "green"
    warn: str = "yellow"
    bad: str = "red"
    busy: str = "cyan"
    muted: str = "dim"
    pending: str = "italic magenta"

    @classmethod
    def from_theme(cls, variables: Mapping[str, str]) -> Palette:
        def pick(name: str, fallback: str) -> str:
            value = variables.get(name, "")
            return value if value.startswith("#") else fallback

        return cls(
            good=pick("text-success", cls.good),
            warn=pick("text-warning", cls.warn),
            bad=pick("text-error", cls.bad),
            busy=pick("text-primary", cls.busy),
            muted="dim",
            pending="italic " + pick("text-accent", "magenta"),
        )

    def status(self, status: WorkerStatus) -> str:
        return {
            WorkerStatus.RUNNING: self.good,
            WorkerStatus.LATE: "bold " + self.warn,
            WorkerStatus.STARTING: self.busy,
            WorkerStatus.STOPPING: self.warn,
            WorkerStatus.STOPPED: self.muted,
            WorkerStatus.BACKING_OFF: self.warn,
            WorkerStatus.STALE: "bold " + self.bad,
            WorkerStatus.NO_CLIENT: self.bad,
        }[status]
