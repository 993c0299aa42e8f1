"""Assert what was inserted, on a connection or inside a test's open transaction.

Args and metadata match by containment: `args={"to": "a@b.c"}` matches a job whose
args hold that key with that value, whatever else they hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import asyncpg

from engine import sql
from engine.db import json_text
from engine.types import Job, JobState

Executor: TypeAlias = "asyncpg.Connection[Any] | asyncpg.Pool[Any]"
# How many jobs a failed assertion lists.
SHOWN = 10


async def inserted_jobs(
    conn: Executor,
    kind: str | None = None,
    *,
    args: Mapping[str, Any] | None = None,
    queue: str | None = None,
    state: JobState | str | Sequence[JobState | str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    priority: int | None = None,
    limit: int = 1_000,
) -> list[Job]:
    """The jobs matching every filter given, oldest first (kind None: any kind).

    `conn` is an asyncpg connection (yours, in a transaction too: it sees what the
    transaction inserted) or pool; a plain asyncpg connection works as well as pqw's.
    """
    states = None
    if state is not None:
        states = [str(state)] if isinstance(state, str) else [str(s) for s in state]
    rows = await conn.fetch(
        sql.INSERTED_JOBS,
        kind,
        None if args is None else json_text.dumps(dict(args)),
        None if metadata is None else json_text.dumps(dict(metadata)),
        queue,
        states,
        None if tags is None else list(tags),
        priority,
        limit,
    )
    return [Job.from_record(r) for r in rows]


async def assert_inserted(
    conn: Executor,
    kind: str,
    *,
    args: Mapping[str, Any] | None = None,
    queue: str | None = None,
    state: JobState | str | Sequence[JobState | str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    priority: int | None = None,
    count: int | None = None,
) -> list[Job]:
    """The jobs of `kind` matching the filters; AssertionError when there is none (or,
    with `count`, not exactly that many), listing the jobs of the kind there are."""
    filters: dict[str, Any] = {
        "args": args,
        "queue": queue,
        "state": state,
        "metadata": metadata,
        "tags": tags,
        "priority": priority,
    }
    # One more than `count` is enough to tell "too many".
    jobs = await inserted_jobs(conn, kind, limit=1_000 if count is None else count + 1, **filters)
    if (count is None and jobs) or (count is not None and len(jobs) == count):
        return jobs
    wanted = f"exactly {count}" if count is not None else "a"
    found = f"{len(jobs)} matched" if jobs else "none matched"
    raise AssertionError(
        f"expected {wanted} {kind!r} job{_where(filters)}; {found}."
        + await _what_there_is(conn, kind)
    )


async def assert_not_inserted(
    conn: Executor,
    kind: str,
    *,
    args: Mapping[str, Any] | None = None,
    queue: str | None = None,
    state: JobState | str | Sequence[JobState | str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    priority: int | None = None,
) -> None:
    """AssertionError, listing them, when a job of `kind` matches the filters."""
    filters: dict[str, Any] = {
        "args": args,
        "queue": queue,
        "state": state,
        "metadata": metadata,
        "tags": tags,
        "priority": priority,
    }
    jobs = await inserted_jobs(conn, kind, limit=SHOWN, **filters)
    if jobs:
        raise AssertionError(f"expected no {kind!r} job{_where(filters)}; found: " + _listed(jobs))


def _where(filters: Mapping[str, Any]) -> str:
    given = [f"{name}={value!r}" for name, value in filters.items() if value is not None]
    return f" with {', '.join(given)}" if given else ""


def _listed(jobs: Sequence[Job]) -> str:
    return "; ".join(
        f"id {j.id} args={j.args!r} queue={j.queue!r} state={j.state.value}" for j in jobs
    )


async def _what_there_is(conn: Executor, kind: str) -> str:
    jobs = await inserted_jobs(conn, kind, limit=SHOWN)
    if not jobs:
        return f" There is no {kind!r} job at all."
    return f" The {kind!r} jobs there are: " + _listed(jobs)
