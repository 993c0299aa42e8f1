"""pqw_job as an operator searches it: a page of jobs for any filter, and failures by cause.

A statement is composed of the constant fragments below with every value a bind
parameter. Without a filter on args, metadata or free text, a page newest
first merges one index scan per (queue, state) that holds jobs (the pairs come
from the exact counts): each reads at most a page from pqw_job_queue_state_id_idx,
so a page costs the same at ten jobs or ten million. With such a filter the
planner chooses (the GIN index on args, or a walk of the primary key), and
every search runs under SEARCH_TIMEOUT so none can load the database for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.sql.jobs import JOB_COLUMNS

# A search the planner cannot serve from an index ends here instead of scanning on.
SEARCH_TIMEOUT_MS = 3_000
BOUND_SEARCH = f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}"
# A bulk batch's change (after its search found the ids) may take longer on a cold,
# busy table, but still ends before the dashboard's 10 s call timeout.
BULK_ACT_TIMEOUT_MS = 8_000
BOUND_BULK_ACT = f"SET LOCAL statement_timeout = {BULK_ACT_TIMEOUT_MS}"

# The orders a page can come in, newest first: created (the id's order), the
# time it is (or was) due, and when it finished.
ORDERS = {"created": "id", "scheduled": "scheduled_at", "finalized": "finalized_at"}

_PAIRS = """
SELECT queue, state FROM (SELECT queue, state, n FROM pqw_job_count
                          UNION ALL
                          SELECT queue, state, delta FROM pqw_job_count_delta) x
WHERE {where}
GROUP BY queue, state
HAVING sum(n) > 0
"""

_COLUMNS = ", ".join("j." + c.strip() for c in JOB_COLUMNS.split(","))


class _Params:
    """Bind parameters in order: add() returns the placeholder of a value."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with `prefix` (its own % and _ taken literally)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _job_conditions(
    p: _Params,
    *,
    kind: str | None,
    job_id: int | None,
    args: str | None,
    metadata: str | None,
    text: str | None,
) -> list[str]:
    where: list[str] = []
    if kind is not None:
        if kind.endswith("*"):
            where.append(f"j.kind LIKE {p.add(_like_prefix(kind[:-1]), 'text')}")
        else:
            where.append(f"j.kind = {p.add(kind, 'text')}")
    if job_id is not None:
        where.append(f"j.id = {p.add(job_id, 'bigint')}")
    if args is not None:
        where.append(f"j.args @> {p.add(args, 'text')}::jsonb")
    if metadata is not None:
        where.append(f"j.metadata @> {p.add(metadata, 'text')}::jsonb")
    if text is not None:
        where.append(f"j.args::text ILIKE {p.add('%' + _like_prefix(text), 'text')}")
    return where


def search_jobs(
    *,
    queue: str | None,
    states: Sequence[str],
    kind: str | None,
    job_id: int | None,
    args: str | None,
    metadata: str | None,
    text: str | None,
    order: str,
    before: tuple[Any, int] | None,
    limit: int,
    ids_only: bool = False,
) -> tuple[str, list[Any]]:
    """The statement and its values for one page: newest first in `order`, below `before`
    (the last row of the page above: its order value and id). `args` and `metadata`
    are JSON objects as text, matched by containment. `ids_only`: the ids alone (what a
    bulk action's batch needs)."""
    column = ORDERS[order]
    columns = "j.id" if ids_only else _COLUMNS
    p = _Params()
    pair_where = ["true"]
    job_where: list[str] = []
    if queue is not None:
        ph = p.add(queue, "text")
        pair_where.append(f"queue = {ph}")
        job_where.append(f"j.queue = {ph}")
    if states:
        ph = p.add(list(states), "text[]")
        pair_where.append(f"state = ANY({ph}::pqw_job_state[])")
        job_where.append(f"j.state = ANY({ph}::pqw_job_state[])")
    where = _job_conditions(p, kind=kind, job_id=job_id, args=args, metadata=metadata, text=text)
    if order == "finalized":
        where.append("j.finalized_at IS NOT NULL")
    if before is not None:
        if column == "id":
            where.append(f"j.id < {p.add(before[1], 'bigint')}")
        else:
            value, last_id = p.add(before[0], "timestamptz"), p.add(before[1], "bigint")
            where.append(f"(j.{column}, j.id) < ({value}, {last_id})")
    n = p.add(limit, "int")
    sort = "id DESC" if column == "id" else f"{column} DESC, id DESC"
    merge = column == "id" and args is None and metadata is None and text is None
    if merge:
        inner = " AND ".join(["j.queue = pairs.queue", "j.state = pairs.state", *where])
        statement = f"""
WITH pairs AS ({_PAIRS.format(where=" AND ".join(pair_where))})
SELECT page.* FROM pairs
CROSS JOIN LATERAL (
    SELECT {columns} FROM pqw_job j WHERE {inner} ORDER BY j.id DESC LIMIT {n}
) page
ORDER BY {sort} LIMIT {n}
"""
    else:
        statement = f"""
SELECT {columns} FROM pqw_job j
WHERE {" AND ".join(job_where + where) or "true"}
ORDER BY {sort.replace("id DESC", "j.id DESC")} LIMIT {n}
"""
    return statement, p.values


def count_of(statement: str) -> str:
    """How many rows a search statement returns (its LIMIT is the cap)."""
    return f"SELECT count(*) FROM ({statement}) matched"


# Failures by cause across queues: the newest $2 failed jobs (retryable and
# discarded; from the index, one scan per queue and state) grouped by kind and
# last error, newest group first.
FAILURE_GROUPS = """
WITH pairs AS (
    SELECT queue, state FROM (SELECT queue, state, n FROM pqw_job_count
                              UNION ALL
                              SELECT queue, state, delta FROM pqw_job_count_delta) x
    WHERE state IN ('retryable', 'discarded') AND ($1::text IS NULL OR queue = $1)
    GROUP BY queue, state
    HAVING sum(n) > 0
),
recent AS (
    SELECT f.* FROM pairs
    CROSS JOIN LATERAL (
        SELECT j.id, j.kind, j.queue, j.state,
               coalesce(j.errors -> -1 ->> 'error', '') AS error,
               coalesce(j.finalized_at, j.attempted_at, j.created_at) AS failed_at
        FROM pqw_job j
        WHERE j.queue = pairs.queue AND j.state = pairs.state
        ORDER BY j.id DESC LIMIT $2
    ) f
    ORDER BY f.id DESC LIMIT $2
)
SELECT kind, split_part(error, E'\\n', 1) AS error,
       count(*) AS jobs,
       count(*) FILTER (WHERE state = 'retryable') AS retryable,
       count(*) FILTER (WHERE state = 'discarded') AS discarded,
       array_agg(DISTINCT queue ORDER BY queue) AS queues,
       max(failed_at) AS last_failed_at,
       max(id) AS newest_id
FROM recent
GROUP BY 1, 2
ORDER BY max(id) DESC
LIMIT $3
"""

# Jobs of a queue (or all) in some states (or all): exact, from the counts.
COUNT_FROM_COUNTS = """
SELECT coalesce(sum(n), 0)::bigint
FROM (SELECT queue, state, n FROM pqw_job_count
      UNION ALL
      SELECT queue, state, delta FROM pqw_job_count_delta) x
WHERE ($1::text IS NULL OR queue = $1)
  AND (cardinality($2::text[]) = 0 OR state = ANY($2::text[]::pqw_job_state[]))
"""
