"""Insert middleware: what wraps a client's inserts, sees each batch before it is written
(and may add metadata and tags, or refuse it) and the results after.

A client's insert middleware run around every `insert`, `insert_many` and
`enqueue`, the first registered outermost, after every row was validated.
Each is `insert(batch, call_next)`: `batch` is a list of PendingInsert, whose
metadata and tags may still change (the changed rows are validated again);
`await call_next()` writes the batch and returns its InsertResults, duplicates
included. A middleware that raises refuses the insert with its exception, and
nothing is written (or, raising after call_next, the rows are written and the
caller gets the exception: in the caller's transaction, it rolls back).
Its return value is ignored. Jobs pqw inserts itself (periodic schedules,
persistent runs) do not pass through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from types import MappingProxyType
from typing import Any, Protocol

from engine.jobs.insert_params import InsertParams, RowTemplate, encode_object, template_for
from engine.jobs.inserter import Executor, insert_rows
from engine.types import InsertOpts, InsertResult, UniqueOpts


class PendingInsert:
    """One job about to be inserted, as an insert middleware sees it: its kind, args and
    options to read; its `metadata` (a dict) and `tags` (a list) to change."""

    __slots__ = ("_metadata", "_params", "_tags")

    def __init__(self, params: InsertParams) -> None:
        self._params = params
        self._metadata: dict[str, Any] | None = None
        self._tags: list[str] | None = None

    @property
    def kind(self) -> str:
        return self._params.template.kind

    @property
    def args(self) -> Mapping[str, Any]:
        """Read-only: the args were encoded (and a unique key made of them) already."""
        return MappingProxyType(dict(self._params.args))

    @property
    def queue(self) -> str:
        return self._params.template.queue

    @property
    def priority(self) -> int:
        return self._params.template.priority

    @property
    def max_attempts(self) -> int:
        return self._params.template.max_attempts

    @property
    def scheduled_at(self) -> datetime | None:
        return self._params.template.scheduled_at

    @property
    def unique(self) -> UniqueOpts | None:
        return self._params.template.unique

    @property
    def metadata(self) -> dict[str, Any]:
        """The job's metadata, to change in place (or replace) before call_next()."""
        if self._metadata is None:
            self._metadata = dict(self._params.template.metadata)
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._metadata = value

    @property
    def tags(self) -> list[str]:
        """The job's tags, to change in place (or replace) before call_next()."""
        if self._tags is None:
            self._tags = list(self._params.template.tags)
        return self._tags

    @tags.setter
    def tags(self, value: list[str]) -> None:
        self._tags = value

    def __repr__(self) -> str:
        return f"PendingInsert(kind={self.kind!r}, queue={self.queue!r}, args={self.args!r})"


NextInsert = Callable[[], Awaitable[Sequence[InsertResult]]]
# A registered middleware's bound `insert` method.
InsertHook = Callable[[list[PendingInsert], NextInsert], Awaitable[object]]


class InsertMiddleware(Protocol):
    """Wraps every insert of this client (see engine/jobs/insert_middleware.py)."""

    async def insert(self, batch: list[PendingInsert], call_next: NextInsert) -> object: ...


def _changed_rows(batch: Sequence[PendingInsert]) -> list[InsertParams]:
    """The batch's rows with the middleware's changes, validated again: rows changed
    alike (a trace context added to every row) share one new template."""
    templates: dict[tuple[int, str, tuple[str, ...]], RowTemplate] = {}
    rows = []
    for pending in batch:
        params = pending._params
        t = params.template
        metadata, tags = pending._metadata, pending._tags
        if (metadata is None or metadata == t.metadata) and (tags is None or tags == list(t.tags)):
            rows.append(params)
            continue
        new_metadata = t.metadata if metadata is None else metadata
        new_tags = t.tags if tags is None else tuple(tags)
        key = (id(t), str(encode_object("metadata", new_metadata)), tuple(new_tags))
        template = templates.get(key)
        if template is None:
            opts = InsertOpts(
                queue=t.queue,
                priority=t.priority,
                max_attempts=t.max_attempts,
                scheduled_at=t.scheduled_at,
                tags=new_tags,
                metadata=new_metadata,
                unique=t.unique,
            )
            template = template_for(t.kind, opts)
            templates[key] = template
        # Unique keys are made of kind, args, queue and schedule only: they still hold.
        rows.append(params._replace(template=template))
    return rows


class _Insert:
    """One insert run through a chain of insert middleware."""

    __slots__ = ("batch", "dsn", "executor", "hooks", "own_pool", "results")

    def __init__(
        self,
        hooks: Sequence[InsertHook],
        executor: Executor,
        batch: list[PendingInsert],
        own_pool: bool,
        dsn: str | None,
    ) -> None:
        self.hooks = hooks
        self.executor = executor
        self.batch = batch
        self.own_pool = own_pool
        self.dsn = dsn
        self.results: Sequence[InsertResult] | None = None

    async def next(self, index: int) -> Sequence[InsertResult]:
        if index == len(self.hooks):
            return await self.write()
        hook = self.hooks[index]
        await hook(self.batch, partial(self.next, index + 1))
        if self.results is None:
            raise RuntimeError(
                f"insert middleware {_name(hook)} returned without inserting: "
                "await call_next() to insert, or raise to refuse the insert"
            )
        return self.results

    async def write(self) -> Sequence[InsertResult]:
        if self.results is not None:
            raise RuntimeError("call_next() was called twice for one insert")
        rows = _changed_rows(self.batch)
        self.results = await insert_rows(self.executor, rows, own_pool=self.own_pool, dsn=self.dsn)
        return self.results


def _name(hook: InsertHook) -> str:
    owner = getattr(hook, "__self__", None)
    return type(owner).__name__ if owner is not None else getattr(hook, "__name__", repr(hook))


async def insert_through(
    hooks: Sequence[InsertHook],
    executor: Executor,
    rows: Sequence[InsertParams],
    *,
    own_pool: bool = False,
    dsn: str | None = None,
) -> Sequence[InsertResult]:
    """Insert validated rows inside the client's insert middleware; their results."""
    batch = [PendingInsert(row) for row in rows]
    return await _Insert(hooks, executor, batch, own_pool, dsn).next(0)
