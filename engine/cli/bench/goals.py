"""The goals of issue 17, each checked against the figures of one bench run."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from engine.cli.bench.figure import Figure


@dataclass(frozen=True)
class Goal:
    name: str
    value: float
    bound: float
    unit: str
    met: bool

    def row(self) -> str:
        verdict = "met" if self.met else "NOT MET"
        return f"goal  {self.name:<52} {self.value:>10,.2f} {self.unit:<7} {verdict}"

    def as_json(self) -> str:
        return json.dumps(
            {
                "goal": self.name,
                "value": round(self.value, 3),
                "bound": self.bound,
                "unit": self.unit,
                "met": self.met,
            }
        )


def _at_most(name: str, value: float, bound: float, unit: str) -> Goal:
    return Goal(name, value, bound, unit, value <= bound)


def _at_least(name: str, value: float, bound: float, unit: str) -> Goal:
    return Goal(name, value, bound, unit, value >= bound)


def _ratio(figure: Figure) -> float:
    assert figure.ratio is not None, figure.name
    return figure.ratio


Check = Callable[[Figure], list[Goal]]

CHECKS: dict[str, Check] = {
    "insert-to-start latency p50": lambda f: [
        _at_most("latency p50 <= 1.4x raw p50", _ratio(f), 1.4, "x raw")
    ],
    "insert-to-start latency p99": lambda f: [
        _at_most("latency p99 <= 3 ms", f.median, 3.0, "ms"),
        _at_most("latency p99 <= 2x raw p99", _ratio(f), 2.0, "x raw"),
    ],
    "drain (no-op jobs)": lambda f: [_at_least("drain >= 65% of raw", _ratio(f), 0.65, "x raw")],
    "bulk enqueue": lambda f: [
        _at_least("bulk insert >= 150,000 jobs/s", f.median, 150_000, "jobs/s")
    ],
    "unique insert (half duplicates)": lambda f: [
        _at_least("unique insert >= 60,000 jobs/s", f.median, 60_000, "jobs/s")
    ],
    "drain (finished jobs present)": lambda f: [
        _at_least(
            f"drain, {f.extra['finished_rows']:,} finished >= 90% of empty",
            f.extra["of_empty"],
            0.9,
            "x empty",
        )
    ],
    "worker RSS while draining": lambda f: [
        _at_most("worker RSS flat (growth <= 5%)", f.extra["growth_pct"], 5.0, "%")
    ],
    "dashboard RSS while refreshing": lambda f: [
        _at_most("dashboard RSS flat (growth <= 5%)", f.extra["growth_pct"], 5.0, "%")
    ],
    "persistent failover after SIGKILL": lambda f: [
        _at_most(
            "failover <= heartbeat_timeout + 1 s (max)", f.extra["max_s"], f.extra["bound_s"], "s"
        )
    ],
}


def check_goals(figures: list[Figure]) -> list[Goal]:
    """Every goal whose figure was measured in this run."""
    goals: list[Goal] = []
    for figure in figures:
        check = CHECKS.get(figure.name)
        if check is not None:
            goals += check(figure)
    return goals
