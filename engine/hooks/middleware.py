"""A client's middleware: registered in order (the first is outermost), sorted once into
the chains the executor, the inserts and the persistent runs call.

A middleware is any object with one or more of: `async def work(job, call_next)`
(engine/jobs/work_middleware.py), `async def insert(batch, call_next)`
(engine/jobs/insert_middleware.py), `def persistent_run_started(run)` and
`def persistent_run_ended(run, end)` (engine/persistent/hooks.py). A client with
none runs exactly the code it runs without hooks: no wrapper, no allocation.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

from engine.jobs.insert_middleware import InsertHook, InsertMiddleware, insert_through
from engine.jobs.insert_params import InsertParams
from engine.jobs.inserter import Executor, insert_rows
from engine.jobs.work_middleware import WorkHook, WorkMiddleware
from engine.persistent.hooks import (
    NO_HOOKS,
    PersistentRunEndedHook,
    PersistentRunStartedHook,
    RunHooks,
)
from engine.types import InsertResult

Middleware = WorkMiddleware | InsertMiddleware | PersistentRunStartedHook | PersistentRunEndedHook

WRAPPERS = ("work", "insert")
OBSERVERS = ("persistent_run_started", "persistent_run_ended")


def _hook(middleware: object, name: str) -> Any:
    """The bound method `name` of a middleware, or None where it has none."""
    hook = getattr(middleware, name, None)
    return hook if callable(hook) else None


def _hooks(registered: Sequence[object], name: str) -> tuple[Any, ...]:
    return tuple(hook for m in registered if (hook := _hook(m, name)) is not None)


def check_middleware(middleware: object) -> None:
    """A clear TypeError now for an object that is no middleware, rather than at a job."""
    found = [name for name in (*WRAPPERS, *OBSERVERS) if _hook(middleware, name) is not None]
    if not found:
        raise TypeError(
            f"{middleware!r} is no middleware: it has none of async work(job, call_next), "
            "async insert(batch, call_next), persistent_run_started(run), "
            "persistent_run_ended(run, end)"
        )
    for name in WRAPPERS:
        hook = _hook(middleware, name)
        if hook is not None and not inspect.iscoroutinefunction(hook):
            raise TypeError(
                f"{type(middleware).__name__}.{name} must be an async def (it awaits call_next())"
            )


class Middlewares:
    """Every middleware of a client, in registration order, and the chains made of them."""

    def __init__(self, middleware: Iterable[Middleware] = ()) -> None:
        self.registered: list[Middleware] = []
        self.work: tuple[WorkHook, ...] = ()
        self.insert: tuple[InsertHook, ...] = ()
        self.run_hooks: RunHooks = NO_HOOKS
        self.add(middleware)

    def add(self, middleware: Iterable[Middleware]) -> None:
        """Append middleware (inside those registered before), each checked first."""
        added = list(middleware)
        for m in added:
            check_middleware(m)
        self.registered.extend(added)
        self.work = _hooks(self.registered, "work")
        self.insert = _hooks(self.registered, "insert")
        started = _hooks(self.registered, "persistent_run_started")
        ended = _hooks(self.registered, "persistent_run_ended")
        self.run_hooks = RunHooks(started, ended) if started or ended else NO_HOOKS

    def write(
        self,
        executor: Executor,
        rows: Sequence[InsertParams],
        *,
        own_pool: bool = False,
        dsn: str | None = None,
    ) -> Awaitable[Sequence[InsertResult]]:
        """Insert validated rows, through the insert middleware when there is any.

        A plain function returning the insert to await: without middleware the
        insert costs no frame of its own. `dsn` names pqw's own pool's database
        so an outage on it is raised as DatabaseUnavailable (see insert_rows).
        """
        if self.insert:
            return insert_through(self.insert, executor, rows, own_pool=own_pool, dsn=dsn)
        return insert_rows(executor, rows, own_pool=own_pool, dsn=dsn)
