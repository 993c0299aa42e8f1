"""The refresh rate: how often the dashboard polls, stepped by + and -, and pausable."""

from __future__ import annotations

from dataclasses import dataclass, replace

# The rates + and - step through; a rate given on the command line joins them.
STEPS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def seconds_label(seconds: float) -> str:
    """0.25 → "0.25s", 1.0 → "1s"."""
    return f"{seconds:g}s"


@dataclass(frozen=True)
class RefreshRate:
    seconds: float = 1.0
    paused: bool = False

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError("the refresh interval must be a positive number of seconds")

    def faster(self) -> RefreshRate:
        """The next shorter interval (polls more often); the shortest stays."""
        shorter = [s for s in STEPS if s < self.seconds]
        return replace(self, seconds=shorter[-1]) if shorter else self

    def slower(self) -> RefreshRate:
        longer = [s for s in STEPS if s > self.seconds]
        return replace(self, seconds=longer[0]) if longer else self

    def toggled(self) -> RefreshRate:
        return replace(self, paused=not self.paused)

    @property
    def label(self) -> str:
        return "paused" if self.paused else seconds_label(self.seconds)
