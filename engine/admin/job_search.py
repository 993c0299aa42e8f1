"""Jobs as an operator finds and changes them many at a time: search, count, failures, bulk."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import asyncpg

from engine import sql
from engine.admin.bulk_pace import BULK_BATCH, BulkBatchTooSlow
from engine.admin.guard import guarded
from engine.admin.models import BulkStep, FailureGroup, JobCount, JobQuery
from engine.errors import InvalidJobOption
from engine.jobs import control
from engine.types import Job

BULK_ACTIONS = ("cancel", "retry", "delete")
_BULK_STATEMENTS = {
    "cancel": sql.CANCEL_JOBS,
    "retry": sql.RETRY_JOBS,
    "delete": sql.DELETE_JOBS,
}
# Counting a filter the counts table cannot answer stops here ("at least").
COUNT_CAP = 1_000_000
# Failures grouped by cause: from this many of the newest failed jobs.
FAILURES_SCANNED = 10_000


def _json_object(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def _statement(
    query: JobQuery, before: tuple[Any, int] | None, limit: int, ids_only: bool = False
) -> tuple[str, list[Any]]:
    return sql.search_jobs(
        queue=query.queue,
        states=[s.value for s in query.states],
        kind=query.kind,
        job_id=query.job_id,
        args=_json_object(query.args),
        metadata=_json_object(query.metadata),
        text=query.text,
        order=query.order,
        before=before,
        limit=limit,
        ids_only=ids_only,
    )


def page_key(job: Job, order: str) -> tuple[Any, int]:
    """Where a page ends, in `order`: the keyset the next page starts below."""
    value = {"created": job.id, "scheduled": job.scheduled_at, "finalized": job.finalized_at}
    return value[order], job.id


@guarded
class JobSearch:
    """Search, counts, failures and bulk actions over `pool` (mixed into Admin)."""

    pool: asyncpg.Pool[Any]

    async def search_jobs(
        self,
        query: JobQuery,
        *,
        after: Job | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """A page of the jobs `query` matches, newest first in its order, below `after`
        (the last job of the page before). A search no index serves is stopped after a
        few seconds (InvalidJobOption says to narrow it)."""
        if query.order not in sql.ORDERS:
            raise InvalidJobOption(f"jobs can be ordered by {', '.join(sql.ORDERS)}")
        before = page_key(after, query.order) if after is not None else None
        if before is None and before_id is not None:
            if query.order != "created":
                raise InvalidJobOption("before_id pages jobs in created order only")
            before = (before_id, before_id)
        statement, values = _statement(query, before, limit)
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            await conn.execute(sql.BOUND_SEARCH)
            try:
                rows = await conn.fetch(statement, *values)
            except asyncpg.QueryCanceledError as exc:
                raise InvalidJobOption(
                    "the search took too long: narrow it by queue, state or kind"
                ) from exc
        return [Job.from_record(r) for r in rows]

    async def count_jobs(self, query: JobQuery, *, cap: int = COUNT_CAP) -> JobCount:
        """How many jobs `query` matches: exact from the counts for a queue and states,
        else counted up to `cap`."""
        only_counts = query == JobQuery(queue=query.queue, states=query.states, order=query.order)
        if only_counts:
            n = await self.pool.fetchval(
                sql.COUNT_FROM_COUNTS, query.queue, [s.value for s in query.states]
            )
            return JobCount(int(n))
        statement, values = _statement(replace(query, order="created"), None, cap)
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            await conn.execute(sql.BOUND_SEARCH)
            try:
                n = await conn.fetchval(sql.count_of(statement), *values)
            except asyncpg.QueryCanceledError as exc:
                raise InvalidJobOption(
                    "counting took too long: narrow the filter by queue, state or kind"
                ) from exc
        return JobCount(int(n), exact=int(n) < cap)

    async def failure_groups(
        self, queue: str | None = None, *, scanned: int = FAILURES_SCANNED, limit: int = 100
    ) -> list[FailureGroup]:
        """Failed jobs across queues (or of one) by kind and last error, newest group first,
        from the newest `scanned` failures (by when they failed): bounded at any table size,
        exact when there are no more failures than that."""
        if queue is None:
            rows = await self.pool.fetch(sql.FAILURE_GROUPS, scanned, limit)
        else:
            rows = await self.pool.fetch(sql.FAILURE_GROUPS_OF_QUEUE, scanned, limit, queue)
        return [
            FailureGroup(
                kind=r["kind"],
                error=r["error"],
                jobs=r["jobs"],
                retryable=r["retryable"],
                discarded=r["discarded"],
                queues=list(r["queues"]),
                last_failed_at=r["last_failed_at"],
                newest_id=r["newest_id"],
            )
            for r in rows
        ]

    async def bulk_step(
        self,
        action: str,
        *,
        query: JobQuery | None = None,
        ids: Sequence[int] | None = None,
        below: int | None = None,
        batch: int = BULK_BATCH,
    ) -> BulkStep:
        """One batch of `action` ("cancel", "retry", "delete") on the jobs `query` matches
        with ids below `below` (or on `ids`, the marked ones): a short transaction that
        skips rows a worker holds and never waits. Call again with `next_below` until
        it is None; stopping between batches leaves a consistent partial result."""
        if action not in BULK_ACTIONS:
            raise InvalidJobOption(f"a bulk action is one of {', '.join(BULK_ACTIONS)}")
        if ids is not None:
            below_ids = sorted((i for i in ids if below is None or i < below), reverse=True)
            chosen: list[int] | None = below_ids[:batch]
            more = len(below_ids) > batch
            statement, values = "", list[Any]()
        else:
            if query is None:
                raise InvalidJobOption("a bulk action needs a filter or marked jobs")
            before = (below, below) if below is not None else None
            statement, values = _statement(
                replace(query, order="created"), before, batch, ids_only=True
            )
            chosen, more = None, False
        try:
            return await self._act_on(action, statement, values, chosen, more, batch)
        except asyncpg.QueryCanceledError as exc:
            raise BulkBatchTooSlow(
                "a batch took too long (a slow filter, or a slow database): it changed "
                "nothing; narrow the filter by queue, state or kind, or try again"
            ) from exc

    async def _act_on(
        self,
        action: str,
        statement: str,
        values: list[Any],
        chosen: list[int] | None,
        more: bool,
        batch: int,
    ) -> BulkStep:
        """Find the batch (unless `chosen`) and act on it, in one short transaction."""
        act = _BULK_STATEMENTS[action]
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    started = time.monotonic()
                    await conn.execute(sql.BOUND_SEARCH)
                    if chosen is None:
                        chosen = [r["id"] for r in await conn.fetch(statement, *values)]
                        more = len(chosen) == batch
                    if not chosen:
                        return BulkStep(0, 0, None)
                    # The change gets what is left of the batch's budget, so search and
                    # change together end before the caller's own timeout.
                    spent_ms = int((time.monotonic() - started) * 1000)
                    await conn.execute(sql.bound_bulk_act(spent_ms))
                    acted = await _act_once(conn, act, chosen)
            except asyncpg.UniqueViolationError:
                # Two of the batch (or one and a live job) share a unique key: one by
                # one, so each that can run again does and the others are left as they are.
                assert chosen is not None
                acted = 0
                for job_id in chosen:
                    with contextlib.suppress(asyncpg.UniqueViolationError):
                        async with conn.transaction():
                            acted += await _act_once(conn, act, [job_id])
        return BulkStep(acted, len(chosen) - acted, min(chosen) if more else None)


async def _act_once(conn: Any, statement: str, ids: list[int]) -> int:
    rows = await conn.fetch(statement, ids)
    for r in rows:
        if r["running"]:
            await control.send(conn, control.cancel_job(r["id"]))
    return len(rows)
