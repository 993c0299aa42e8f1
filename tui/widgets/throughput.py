"""Completed jobs per second over the last minute: a sparkline and its numbers."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Sparkline


def throughput_summary(per_second: list[int]) -> str:
    """ "now 12/s · peak 31/s · 1,234 in 60s" for the sparkline's side."""
    if not per_second:
        return "no data"
    # The last second is still being counted; the one before it is the latest whole one.
    latest = per_second[-2] if len(per_second) > 1 else per_second[-1]
    total = sum(per_second)
    return f"now {latest}/s · peak {max(per_second)}/s · {total:,} in {len(per_second)}s"


class Throughput(Horizontal):
    def compose(self) -> ComposeResult:
        yield Label("completed/s", classes="throughput-title")
        yield Sparkline([0], summary_function=max, id="throughput-sparkline")
        yield Label("no data", id="throughput-summary")

    def show(self, per_second: list[int]) -> None:
        self.query_one(Sparkline).data = [float(n) for n in per_second] or [0.0]
        self.query_one("#throughput-summary", Label).update(throughput_summary(per_second))
