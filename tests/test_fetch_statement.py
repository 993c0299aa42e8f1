"""A fetch's limit is written into its statement when it is small, so Postgres plans each
such statement once instead of on every fetch; either form fetches exactly as asked."""

from __future__ import annotations

from typing import Any

import pytest

from engine import sql

CLIENT = "tester"


async def add_jobs(conn: Any, count: int) -> None:
    """`count` available jobs in queue q, their priorities 1 to 4 in turn."""
    await conn.execute(
        "INSERT INTO pqw_job (kind, args, queue, priority, max_attempts)"
        " SELECT 'w', '{}', 'q', 1 + n % 4, 5 FROM generate_series(1, $1) AS n",
        count,
    )


async def fetch(conn: Any, limit: int) -> list[Any]:
    statement, by_parameter = sql.fetch_jobs(limit)
    return list(await conn.fetch(statement, "q", CLIENT, "{}", 30.0, None, *by_parameter))


def test_small_limits_are_written_into_the_statement_and_larger_ones_bound() -> None:
    for limit in (1, 16, sql.FETCH_LIMITS_IN_TEXT):
        statement, by_parameter = sql.fetch_jobs(limit)
        assert f"LIMIT {limit}\n" in statement and by_parameter == ()
    for limit in (sql.FETCH_LIMITS_IN_TEXT + 1, 1000):
        assert sql.fetch_jobs(limit) == (sql.FETCH_JOBS, (limit,))
    assert "LIMIT $6\n" in sql.FETCH_JOBS


@pytest.mark.parametrize("limit", [3, sql.FETCH_LIMITS_IN_TEXT, sql.FETCH_LIMITS_IN_TEXT + 5])
async def test_a_fetch_takes_at_most_its_limit_best_first_and_marks_them_running(
    conn: Any, limit: int
) -> None:
    await add_jobs(conn, 2 * limit + 1)
    expected = await conn.fetch(
        "SELECT id FROM pqw_job WHERE queue = 'q' ORDER BY priority, scheduled_at, id LIMIT $1",
        limit,
    )
    rows = await fetch(conn, limit)
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    assert {(r["state"], r["attempt"], tuple(r["attempted_by"])) for r in rows} == {
        ("running", 1, (CLIENT,))
    }
    assert len(await fetch(conn, limit)) == limit
    assert len(await fetch(conn, limit)) == 1  # what is left
    assert await fetch(conn, limit) == []


async def plans(conn: Any, statement: str) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
        statement,
    )
    return row["generic_plans"], row["custom_plans"]


async def test_a_fetch_with_its_limit_in_the_text_is_planned_once_not_on_every_fetch(
    conn: Any,
) -> None:
    # Statistics that stay put: an autovacuum's ANALYZE mid-test would make Postgres plan again.
    await conn.execute("ALTER TABLE pqw_job SET (autovacuum_enabled = false)")
    await add_jobs(conn, 2_000)
    await conn.execute("ANALYZE pqw_job")
    for _ in range(20):
        assert len(await fetch(conn, 2)) == 2
    generic, custom = await plans(conn, sql.fetch_jobs(2)[0])
    # Postgres tries custom plans five times, then keeps the generic one.
    assert (generic, custom) == (15, 5)
    # With the limit bound, every fetch is planned afresh.
    big = sql.FETCH_LIMITS_IN_TEXT + 1
    for _ in range(10):
        assert len(await fetch(conn, big)) == big
    assert await plans(conn, sql.FETCH_JOBS) == (0, 10)
