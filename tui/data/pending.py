"""Changes the operator asked for that no refresh has confirmed yet ("stopping…").

A change is shown from the key press until an overview read *after* the action
finished shows it took effect; an overview already in flight when the action
committed cannot confirm it. A change nobody confirms fades after a while so a
row never stays "stopping…" forever; the status column shows the truth then.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from engine.admin import (
    FINAL_STATES,
    LIVE_RUN_STATUSES,
    Job,
    Overview,
    PeriodicInfo,
    QueueCounts,
    WorkerInfo,
)

T = TypeVar("T")

# How long an unconfirmed change stays on screen after its action finished.
PENDING_TTL = 30.0

# Which cell of a worker's row shows the change.
RUN = "run"
CONFIG = "config"
# The one aspect of a queue, of a schedule, and of a job, an operator changes.
PAUSE = "pause"
CONCURRENCY = "concurrency"
ENABLED = "enabled"
SCHEDULE = "schedule"
JOB = "job"

_LIVE_RUN = LIVE_RUN_STATUSES


@dataclass(frozen=True)
class PendingChange(Generic[T]):
    label: str
    done: Callable[[T], bool]
    # The on/off state the change leads to (enabled, paused), so a second key
    # press before the refresh toggles from the intended state, not the old one.
    target: bool | None = None
    # When the action returned (time.monotonic); None while it is still running.
    settled_at: float | None = None


def stopping() -> PendingChange[WorkerInfo]:
    return PendingChange("stopping…", lambda w: not w.enabled, target=False)


def starting() -> PendingChange[WorkerInfo]:
    return PendingChange("starting…", lambda w: w.enabled, target=True)


def restarting() -> PendingChange[WorkerInfo]:
    # Confirmed once a run started after the request, or none is live any more.
    def done(w: WorkerInfo) -> bool:
        requested, started = w.restart_requested_at, w.run_started_at
        restarted = requested is not None and started is not None and started > requested
        return restarted or w.status not in _LIVE_RUN

    return PendingChange("restarting…", done, target=True)


def reconfiguring(old_version: int, new_version: int) -> PendingChange[WorkerInfo]:
    return PendingChange(
        f"v{old_version}→v{new_version}…", lambda w: w.config_version >= new_version
    )


def pausing() -> PendingChange[QueueCounts]:
    return PendingChange("pausing…", lambda q: q.paused, target=True)


def resuming() -> PendingChange[QueueCounts]:
    return PendingChange("resuming…", lambda q: not q.paused, target=False)


def setting_concurrency(concurrency: int | None) -> PendingChange[QueueCounts]:
    label = f"→{concurrency}…" if concurrency is not None else "→code…"
    return PendingChange(label, lambda q: q.concurrency == concurrency)


def running_now() -> PendingChange[PeriodicInfo]:
    # Confirmed by the next read after the action: the leader inserts its job at once.
    return PendingChange("running…", lambda p: True)


def rescheduling(text: str) -> PendingChange[PeriodicInfo]:
    return PendingChange(f"→ {text}…", lambda p: p.schedule == text)


def enabling() -> PendingChange[PeriodicInfo]:
    return PendingChange("enabling…", lambda p: p.enabled, target=True)


def disabling() -> PendingChange[PeriodicInfo]:
    return PendingChange("disabling…", lambda p: not p.enabled, target=False)


def cancelling(running: bool) -> PendingChange[Job]:
    # A waiting job is cancelled by the action itself; a running one by its
    # runner a moment later, so the label says what is still to happen.
    label = "cancel requested…" if running else "cancelling…"
    return PendingChange(label, lambda j: j.state in FINAL_STATES)


def retrying() -> PendingChange[Job]:
    # The action made it available; it may well have run again (and finished)
    # before the refresh, so any read after the action shows its outcome.
    return PendingChange("retrying…", lambda j: True)


def deleting() -> PendingChange[Job]:
    # Confirmed when a read no longer has the row (confirm treats a missing row as done).
    return PendingChange("deleting…", lambda j: False)


@dataclass
class PendingChanges(Generic[T]):
    """Unconfirmed changes by (row key, aspect)."""

    changes: dict[tuple[str, str], PendingChange[T]] = field(default_factory=dict)

    def begin(self, key: str, aspect: str, change: PendingChange[T]) -> None:
        self.changes[(key, aspect)] = change

    def settle(self, key: str, aspect: str, at: float) -> None:
        """The action finished at `at`: refreshes that start later may confirm it."""
        change = self.changes.get((key, aspect))
        if change is not None:
            self.changes[(key, aspect)] = replace(change, settled_at=at)

    def drop(self, key: str, aspect: str) -> None:
        self.changes.pop((key, aspect), None)

    def confirm(
        self,
        rows: Mapping[str, T],
        read_started_at: float,
        now: float,
        covered: Collection[str] | None = None,
    ) -> None:
        """Forget changes that a read begun at `read_started_at` shows done, or that expired.

        A read sees every key unless `covered` names the keys it looked at (one
        job's detail): a key it did not look at is not "gone" by its absence.
        """
        for (key, aspect), change in list(self.changes.items()):
            if change.settled_at is None:
                continue
            if (
                covered is not None
                and key not in covered
                and now - change.settled_at <= PENDING_TTL
            ):
                continue
            row = rows.get(key)
            expired = now - change.settled_at > PENDING_TTL
            seen = read_started_at >= change.settled_at and (row is None or change.done(row))
            if seen or expired:
                del self.changes[(key, aspect)]

    def intended(self, key: str, aspect: str, current: bool) -> bool:
        """The on/off state `key` is headed for: an unconfirmed change's target, else `current`.

        A second key press before the refresh toggles from what the operator
        asked for, not from the state the last read showed.
        """
        change = self.changes.get((key, aspect))
        if change is not None and change.target is not None:
            return change.target
        return current

    def labels(self) -> dict[tuple[str, str], str]:
        return {k: c.label for k, c in self.changes.items()}


@dataclass
class Pending:
    """Every unconfirmed change on the dashboard, by what it changes."""

    workers: PendingChanges[WorkerInfo] = field(default_factory=PendingChanges)
    queues: PendingChanges[QueueCounts] = field(default_factory=PendingChanges)
    schedules: PendingChanges[PeriodicInfo] = field(default_factory=PendingChanges)
    jobs: PendingChanges[Job] = field(default_factory=PendingChanges)

    def confirm_overview(self, overview: Overview, read_started_at: float, now: float) -> None:
        """Forget the worker, queue and schedule changes that an overview read shows done."""
        self.workers.confirm({w.name: w for w in overview.workers}, read_started_at, now)
        self.queues.confirm({q.queue: q for q in overview.queues}, read_started_at, now)
        self.schedules.confirm({p.id: p for p in overview.periodic}, read_started_at, now)
