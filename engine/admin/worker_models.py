"""What a persistent worker remembers, as an operator reads it: its state (the last
checkpoint), its runs and how each ended, its log, and its config versions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.admin.models import WorkerInfo

# How a run ended (pqw_persistent_run.end_reason), in an operator's words.
END_REASONS = {
    "returned": "returned",
    "stop": "stopped",
    "restart": "restarted",
    "config": "config change",
    "cancel": "cancelled",
    "shutdown": "shutdown",
    "crash": "crashed",
    "lease lost": "lease lost",
    "rescued": "failed over",
}


@dataclass(frozen=True)
class WorkerState:
    """A worker's state: the JSON its runs last checkpointed, and which run wrote it."""

    name: str
    state: Any  # None: nothing checkpointed since the worker began, or since a reset
    version: int  # bumped by every checkpoint and reset; 0: never checkpointed
    size: int  # bytes of its JSON text
    run: int | None
    job_id: int | None
    client_id: str | None
    checkpointed_at: datetime | None
    reset_at: datetime | None
    reset_by: str | None
    now: datetime
    # False: the state itself was left out (the reader had this version already).
    included: bool = True

    @property
    def checkpointed(self) -> bool:
        """A state is kept (it may be JSON null): the next run starts with it."""
        return self.checkpointed_at is not None

    @property
    def age(self) -> float | None:
        if self.checkpointed_at is None:
            return None
        return max(0.0, (self.now - self.checkpointed_at).total_seconds())


@dataclass(frozen=True)
class WorkerRun:
    """One run of a worker: when and where it ran, with which config, how it ended."""

    name: str
    run: int
    job_id: int
    attempt: int
    client_id: str
    host: str | None
    pid: int | None
    config_version: int
    started_at: datetime
    ended_at: datetime | None
    # returned, stop, restart, config, cancel, shutdown, crash, lease lost, rescued
    end_reason: str | None
    error: str | None
    now: datetime

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def how(self) -> str:
        """How it ended in words ("failed over", "crashed"), or "running"."""
        if self.end_reason is None:
            return "running"
        return END_REASONS.get(self.end_reason, self.end_reason)

    @property
    def duration(self) -> float:
        """Seconds it ran (so far, while it runs)."""
        end = self.ended_at or self.now
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def where(self) -> str:
        return f"{self.host}:{self.pid}" if self.host is not None else self.client_id


@dataclass(frozen=True)
class WorkerLogLine:
    """A line of a worker's log: what a run logged (logging, ctx.log) or pqw said of it."""

    seq: int  # the line's number in the worker's log, rising
    run: int
    at: datetime
    level: int
    logger: str
    message: str

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)


@dataclass(frozen=True)
class ConfigVersion:
    """One version of a worker's config, and who made it (user@host, or "code default")."""

    version: int
    config: dict[str, Any]
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class WorkerDetail:
    """Everything the worker screen shows, read together."""

    worker: WorkerInfo
    state: WorkerState
    runs: list[WorkerRun] = field(default_factory=list)  # newest first
    configs: list[ConfigVersion] = field(default_factory=list)  # newest first
    log: list[WorkerLogLine] = field(default_factory=list)  # oldest first
