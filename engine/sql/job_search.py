"""pqw_job as an operator searches it: a page of jobs for any filter, and failures by cause.

A statement is composed of the constant fragments below with every value a bind
parameter. A page is read newest first by merging short index scans, each of
which reads at most a page, so it costs the same at ten jobs or ten million:
- no filter but queue and state: one scan of pqw_job_queue_state_id_idx per
  (queue, state) that holds jobs (the pairs come from the exact counts);
- a kind (exact, or a prefix whose kinds a loose scan of pqw_job_kind_idx
  lists): one scan of pqw_job_kind_idx per (kind, queue, state);
- in finalized order: one scan of pqw_job_finalized_idx per finished state.
Args or metadata containment goes to the planner (a GIN index on args where
one was added, else a scan), as do an id and the scheduled order. Every search
runs under SEARCH_TIMEOUT so none can load the database for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.sql.jobs import JOB_COLUMNS

# A search the planner cannot serve from an index ends here instead of scanning on.
SEARCH_TIMEOUT_MS = 3_000
BOUND_SEARCH = f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}"
# A bulk batch, its search and its change together, ends within this (before the
# dashboard's 10 s call timeout); the change gets what the search left, at least
# a second.
BULK_BATCH_BUDGET_MS = 8_000
BULK_ACT_LEAST_MS = 1_000


def bound_bulk_act(spent_ms: int) -> str:
    """The statement bounding a batch's change once its search took `spent_ms`."""
    left = max(BULK_ACT_LEAST_MS, BULK_BATCH_BUDGET_MS - int(spent_ms))
    return f"SET LOCAL statement_timeout = {left}"  # an int: no value from outside


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

# The same with each pair's jobs and its state's jobs in every queue (from the counts).
_PAIRS_WITH_SIZE = """
SELECT queue, state, sum(n) AS n, sum(sum(n)) OVER (PARTITION BY state) AS in_state
FROM (SELECT queue, state, n FROM pqw_job_count
      UNION ALL
      SELECT queue, state, delta FROM pqw_job_count_delta) x
WHERE state = ANY({finished}::pqw_job_state[])
GROUP BY queue, state
"""

# Newest finished first in every queue: one walk per finished state.
_FINALIZED_BY_STATE = """
SELECT {outer} FROM unnest({finished}::pqw_job_state[]) AS finished(state)
CROSS JOIN LATERAL (
    SELECT {columns}, j.finalized_at AS sort_at FROM pqw_job j WHERE {inner}
    ORDER BY j.finalized_at DESC, j.id DESC LIMIT {n}
) page
ORDER BY page.sort_at DESC, page.id DESC LIMIT {n}
"""

# Newest finished first in one queue: one part per (queue, state), each the cheaper of two:
# walk the state's pqw_job_finalized_idx (time order) skipping other queues'
# jobs, about page * in_state / n rows; or read the pair's n jobs from
# pqw_job_queue_state_id_idx and sort them (the ORDER BY on an expression keeps
# the planner off the time index there). Either way at most about
# sqrt(page * in_state) rows per pair, whatever the table size.
_FINALIZED_MERGE = """
WITH sized AS ({pairs}),
pairs AS (SELECT s.*, s.n * s.n >= {n} * s.in_state AS walk FROM sized s
          WHERE s.n > 0{queue})
SELECT {outer} FROM pairs
CROSS JOIN LATERAL (
    (SELECT {columns}, j.finalized_at AS sort_at FROM pqw_job j
     WHERE pairs.walk AND {inner}
     ORDER BY j.finalized_at DESC, j.id DESC LIMIT {n})
    UNION ALL
    (SELECT {columns}, j.finalized_at AS sort_at FROM pqw_job j
     WHERE NOT pairs.walk AND {inner}
     ORDER BY j.finalized_at + interval '0' DESC, j.id DESC LIMIT {n})
) page
ORDER BY page.sort_at DESC, page.id DESC LIMIT {n}
"""

_COLUMNS = ", ".join("j." + c.strip() for c in JOB_COLUMNS.split(","))


class _Params:
    """Bind parameters in order: add() returns the placeholder of a value."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


# The states a job has a finalized_at in (a CHECK constraint ties the two).
FINISHED = ("completed", "cancelled", "discarded")

# The kinds that start with a prefix, one probe of pqw_job_kind_idx each (a loose
# index scan); the index orders kinds bytewise (text_pattern_ops), as the range
# bounds are computed.
_KINDS_IN_RANGE = """
kinds(kind) AS (
    (SELECT j.kind FROM pqw_job j WHERE j.kind ~>=~ {low}{below_high}
     ORDER BY j.kind USING ~<~ LIMIT 1)
    UNION ALL
    SELECT (SELECT j.kind FROM pqw_job j WHERE j.kind ~>~ kinds.kind{below_high}
            ORDER BY j.kind USING ~<~ LIMIT 1)
    FROM kinds WHERE kinds.kind IS NOT NULL
)"""


def prefix_bound(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`, bytewise in UTF-8
    (code point order); None when there is none (the prefix is only U+10FFFF)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters: the next one is
        following = 0xE000
    return stripped[:-1] + chr(following)


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with `prefix` (its own % and _ taken literally)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


@dataclass(frozen=True)
class _Kind:
    """A kind term's placeholders: `exact`, or a prefix's `low` and (unless none) `high`."""

    exact: str | None = None
    low: str | None = None
    high: str | None = None

    @staticmethod
    def of(p: _Params, kind: str) -> _Kind:
        if not kind.endswith("*"):
            return _Kind(exact=p.add(kind, "text"))
        high = prefix_bound(kind[:-1])
        return _Kind(
            low=p.add(kind[:-1], "text"), high=None if high is None else p.add(high, "text")
        )

    def below_high(self) -> str:
        return "" if self.high is None else f" AND j.kind ~<~ {self.high}"

    def condition(self) -> str:
        """The term as a filter on j.kind."""
        if self.exact is not None:
            return f"j.kind = {self.exact}"
        return f"j.kind ~>=~ {self.low}{self.below_high()}"

    def kinds_cte(self) -> str:
        """`kinds(kind)`: the kinds the term matches (NULL ends a prefix's list)."""
        if self.exact is not None:
            return f"kinds(kind) AS (SELECT {self.exact})"
        return _KINDS_IN_RANGE.format(low=self.low, below_high=self.below_high()).strip()


def _job_conditions(
    p: _Params,
    *,
    job_id: int | None,
    args: str | None,
    metadata: str | None,
    text: str | None,
) -> list[str]:
    where: list[str] = []
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
    outer = columns.replace("j.", "page.")  # a merge's page, without its sort column
    if kind == "*":  # every kind
        kind = None
    p = _Params()
    pair_where = ["true"]
    queue_where: list[str] = []
    state_where: list[str] = []
    if queue is not None:
        ph = p.add(queue, "text")
        pair_where.append(f"queue = {ph}")
        queue_where.append(f"j.queue = {ph}")
    if states and order != "finalized":  # (the finalized order names its states itself)
        ph = p.add(list(states), "text[]")
        pair_where.append(f"state = ANY({ph}::pqw_job_state[])")
        state_where.append(f"j.state = ANY({ph}::pqw_job_state[])")
    kind_term = _Kind.of(p, kind) if kind is not None else None
    where = _job_conditions(p, job_id=job_id, args=args, metadata=metadata, text=text)
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
    kind_where = [kind_term.condition()] if kind_term is not None else []
    planner = job_id is not None or args is not None or metadata is not None
    if order == "finalized" and planner:
        ph = p.add(list(states or FINISHED), "text[]")
        state_where.append(f"j.state = ANY({ph}::pqw_job_state[])")
    if planner or order == "scheduled":
        where = kind_where + where
        # Containment and ids are the planner's to serve (a GIN index on args, if added).
        statement = f"""
SELECT {columns} FROM pqw_job j
WHERE {" AND ".join(queue_where + state_where + where) or "true"}
ORDER BY {sort.replace("id DESC", "j.id DESC")} LIMIT {n}
"""
    elif order == "finalized":
        finished = p.add([s for s in states if s in FINISHED] if states else FINISHED, "text[]")
        if queue is None:
            # Every queue: one walk of pqw_job_finalized_idx per finished state.
            inner = " AND ".join(["j.state = finished.state", *kind_where, *where])
            statement = _FINALIZED_BY_STATE.format(
                finished=finished, outer=outer, columns=columns, inner=inner, n=n
            )
            return statement, p.values
        inner = " AND ".join(
            ["j.queue = pairs.queue", "j.state = pairs.state", *kind_where, *where]
        )
        statement = _FINALIZED_MERGE.format(
            pairs=_PAIRS_WITH_SIZE.format(finished=finished),
            queue=queue_where[0].replace("j.queue", " AND s.queue") if queue_where else "",
            outer=outer,
            columns=columns,
            inner=inner,
            n=n,
        )
    else:
        pairs = _PAIRS.format(where=" AND ".join(pair_where))
        ctes = f"pairs AS ({pairs})"
        scans = "pairs"
        inner_where = ["j.queue = pairs.queue", "j.state = pairs.state"]
        if kind_term is not None:
            # One scan per (kind, queue, state): a kind absent from a pair costs one probe.
            recursive = "RECURSIVE " if kind_term.exact is None else ""
            ctes = f"{recursive}{kind_term.kinds_cte()},\n{ctes}"
            scans = "pairs CROSS JOIN (SELECT kind FROM kinds WHERE kind IS NOT NULL) kinds"
            inner_where.append("j.kind = kinds.kind")
        inner = " AND ".join([*inner_where, *where])
        statement = f"""
WITH {ctes}
SELECT page.* FROM {scans}
CROSS JOIN LATERAL (
    SELECT {columns} FROM pqw_job j WHERE {inner} ORDER BY j.id DESC LIMIT {n}
) page
ORDER BY {sort} LIMIT {n}
"""
    return statement, p.values


def count_of(statement: str) -> str:
    """How many rows a search statement returns (its LIMIT is the cap)."""
    return f"SELECT count(*) FROM ({statement}) matched"


# Failures by cause: the newest failed jobs (retryable and discarded, newest by
# when they failed), one backward walk of a partial index that holds failed
# jobs only (so healthy work never writes to it), grouped by kind and the first
# line of the last error, newest group first. $1: how many to group, $2: groups,
# $3: the queue (FAILURE_GROUPS_OF_QUEUE).
FAILED_AT = "coalesce(j.finalized_at, j.attempted_at, j.created_at)"
_FAILURES = f"""
WITH recent AS (
    SELECT j.id, j.kind, j.queue, j.state,
           coalesce(j.errors -> -1 ->> 'error', '') AS error,
           {FAILED_AT} AS failed_at
    FROM pqw_job j
    WHERE j.state IN ('retryable', 'discarded'){{queue}}
    ORDER BY {FAILED_AT} DESC, j.id DESC
    LIMIT $1
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
ORDER BY max(failed_at) DESC, max(id) DESC
LIMIT $2
"""
FAILURE_GROUPS = _FAILURES.format(queue="")
FAILURE_GROUPS_OF_QUEUE = _FAILURES.format(queue=" AND j.queue = $3")

# Jobs of a queue (or all) in some states (or all): exact, from the counts.
COUNT_FROM_COUNTS = """
SELECT coalesce(sum(n), 0)::bigint
FROM (SELECT queue, state, n FROM pqw_job_count
      UNION ALL
      SELECT queue, state, delta FROM pqw_job_count_delta) x
WHERE ($1::text IS NULL OR queue = $1)
  AND (cardinality($2::text[]) = 0 OR state = ANY($2::text[]::pqw_job_state[]))
"""
