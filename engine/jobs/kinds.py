"""Job kinds: a handler and the defaults of its kind, checked when it is registered."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, ParamSpec, TypeVar

import asyncpg

from engine.errors import DuplicateKind, InvalidJobType
from engine.jobs.checks import heartbeat_timeout_after, validate_kind, validate_seconds
from engine.jobs.insert_params import build_params
from engine.jobs.retry import RetryBackoff, checked_backoff
from engine.types import InsertOpts, InsertResult, Job

P = ParamSpec("P")
R = TypeVar("R")

# Client.insert(kind, args, conn=..., **options).
Insert = Callable[..., Awaitable[InsertResult]]


@dataclass(frozen=True)
class JobKind:
    """A registered handler and the defaults of its kind."""

    kind: str
    fn: Callable[[Job], Any]
    opts: InsertOpts
    timeout: float | None = None
    retry_backoff: RetryBackoff | None = None
    heartbeat_timeout: float | None = None

    @cached_property
    def is_async(self) -> bool:
        # Asked for every job run; inspect takes a few microseconds to answer.
        return inspect.iscoroutinefunction(self.fn)


def define_kind(
    kind: str,
    fn: Callable[[Job], Any],
    *,
    registered: Collection[str],
    opts: InsertOpts | None = None,
    timeout: float | None = None,
    retry_backoff: RetryBackoff | None = None,
    heartbeat_timeout: float | None = None,
    heartbeat_interval: float = 0.0,
) -> JobKind:
    """A kind with its defaults, or a clear error now rather than at its first insert."""
    validate_kind(kind)
    if kind in registered:
        raise DuplicateKind(f"job kind {kind!r} is already registered on this client")
    if timeout is not None:
        timeout = validate_seconds(timeout, f"{kind}: timeout")
    if heartbeat_timeout is not None:
        what = f"{kind}: heartbeat_timeout"
        heartbeat_timeout = heartbeat_timeout_after(heartbeat_interval, heartbeat_timeout, what)
    retry_backoff = checked_backoff(retry_backoff, f"{kind}: retry_backoff")
    if not callable(fn):
        raise InvalidJobType(f"{kind}: the handler must be a function")
    opts = opts or InsertOpts()
    build_params(kind, {}, opts)
    return JobKind(
        kind=kind,
        fn=fn,
        opts=opts,
        timeout=timeout,
        retry_backoff=retry_backoff,
        heartbeat_timeout=heartbeat_timeout,
    )


class JobHandler(Generic[P, R]):
    """A registered handler: still callable as the function, plus `enqueue`."""

    def __init__(
        self,
        insert: Insert,
        kind: str,
        fn: Callable[P, R],
        *,
        definition: JobKind | None = None,
        owner: Any = None,
    ) -> None:
        self._insert = insert
        self.kind = kind
        self.fn = fn
        # The kind as registered and the client it belongs to (engine.testing runs it).
        self.definition = definition
        self.owner = owner
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", kind)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    async def enqueue(
        self,
        args: Mapping[str, Any] | None = None,
        *,
        conn: asyncpg.Connection[Any] | None = None,
        **opts: Any,
    ) -> InsertResult:
        """Insert a job of this kind (in the caller's transaction when `conn` is given)."""
        return await self._insert(self.kind, args or {}, conn=conn, **opts)
