"""Hooks: the middleware a client runs around job execution and insertion, and the
observers of persistent runs, sorted by what each wraps (Client(middleware=[...]))."""

from engine.hooks.middleware import Middleware, Middlewares
from engine.jobs.insert_middleware import InsertMiddleware, NextInsert, PendingInsert
from engine.jobs.work_middleware import JobResult, NextWork, WorkMiddleware
from engine.persistent.hooks import (
    PersistentRunEnd,
    PersistentRunEndedHook,
    PersistentRunInfo,
    PersistentRunStartedHook,
)

__all__ = [
    "InsertMiddleware",
    "JobResult",
    "Middleware",
    "Middlewares",
    "NextInsert",
    "NextWork",
    "PendingInsert",
    "PersistentRunEnd",
    "PersistentRunEndedHook",
    "PersistentRunInfo",
    "PersistentRunStartedHook",
    "WorkMiddleware",
]
