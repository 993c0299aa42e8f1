"""Persistent-run hooks: told when a run of a persistent worker starts on this client and
how it ended (returned, crashed, stopped, restarted, lease lost ...).

They observe; they cannot refuse or change a run (its lease is the cluster's
guarantee of one copy): they are plain functions, called on the event loop in
registration order, and one that raises is logged and passed over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.persistent.ending import RESTARTING, RunEnd

log = logging.getLogger("pqw.persistent")


@dataclass(frozen=True)
class PersistentRunInfo:
    """Which run: the worker's name, its job, the run's number and its config version."""

    worker: str
    job_id: int
    run: int
    config_version: int


@dataclass(frozen=True)
class PersistentRunEnd:
    """How a run ended.

    `reason`: returned, crash, stop, cancel, restart, config, shutdown, "lease
    lost" (the run was cut off, the rescuer starts the next one) or "given up"
    (the handler ignored cancellation while this client stopped). `state` is
    its job's final state (completed, cancelled, discarded), None when the run
    was cut off. `restarts`: the worker counts a restart (the next run follows
    at once, or after its backoff). `error` is the handler's, on a crash.
    """

    reason: str
    state: str | None
    error: BaseException | None
    duration: float
    restarts: bool

    @property
    def lease_lost(self) -> bool:
        return self.reason == "lease lost"

    @classmethod
    def of(cls, end: RunEnd) -> PersistentRunEnd:
        return cls(end.reason, end.state, end.error, end.duration, end.reason in RESTARTING)

    @classmethod
    def cut_off(cls, reason: str, duration: float) -> PersistentRunEnd:
        return cls(reason, None, None, duration, False)


class PersistentRunStartedHook(Protocol):
    def persistent_run_started(self, run: PersistentRunInfo) -> None: ...


class PersistentRunEndedHook(Protocol):
    def persistent_run_ended(self, run: PersistentRunInfo, end: PersistentRunEnd) -> None: ...


@dataclass(frozen=True)
class RunHooks:
    """The registered hooks, called in order; a hook that raises is logged, never the run's."""

    started: Sequence[Callable[[PersistentRunInfo], None]] = ()
    ended: Sequence[Callable[[PersistentRunInfo, PersistentRunEnd], None]] = ()

    def run_started(self, run: PersistentRunInfo) -> None:
        for hook in self.started:
            try:
                hook(run)
            except Exception:
                log.exception("pqw: persistent worker %s: a run-started hook failed", run.worker)

    def run_ended(self, run: PersistentRunInfo, end: PersistentRunEnd) -> None:
        for hook in self.ended:
            try:
                hook(run, end)
            except Exception:
                log.exception("pqw: persistent worker %s: a run-ended hook failed", run.worker)


NO_HOOKS = RunHooks()
