"""The two statements that write a flush of finished attempts agree: plain completions
(sql.COMPLETE_PLAIN_JOBS) leave the rows and the throughput count exactly as the general
statement (sql.COMPLETE_JOBS) leaves them, come back busy when someone else holds the
row's lock, and touch no attempt that is no longer this client's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine import sql
from engine.db.pool import connect
from engine.jobs.completer import complete_statement, general_complete_statement
from engine.jobs.executor import Outcome
from engine.types import JobState

CLIENT = "tester"
# The row as a flush leaves it (times as whether they are set: they are now()).
ROW = """
SELECT state, attempt, errors, metadata, scheduled_at, finalized_at IS NOT NULL AS finalized,
       heartbeat_at IS NULL AS beat_cleared
FROM pqw_job WHERE id = $1
"""


async def running_attempts(conn: Any, count: int) -> list[tuple[int, int]]:
    """(id, attempt) of `count` new jobs fetched, so running, for CLIENT."""
    await conn.executemany(
        "INSERT INTO pqw_job (kind, args, queue, max_attempts) VALUES ('w', '{}', 'q', 5)",
        [() for _ in range(count)],
    )
    rows = await conn.fetch(sql.FETCH_JOBS, "q", CLIENT, "{}", 30.0, None, count)
    assert len(rows) == count
    return sorted((r["id"], r["attempt"]) for r in rows)


def completed(attempts: list[tuple[int, int]]) -> list[Outcome]:
    return [Outcome(job_id, attempt, JobState.COMPLETED) for job_id, attempt in attempts]


async def completed_count(conn: Any) -> int:
    return int(
        await conn.fetchval(
            "SELECT coalesce(sum(completed), 0) FROM pqw_throughput WHERE client_id = $1", CLIENT
        )
    )


async def test_plain_completions_use_the_plain_statement_and_a_mixed_flush_the_general_one() -> (
    None
):
    plain = completed([(1, 1), (2, 3)])
    statement, *params = complete_statement(plain, CLIENT)
    assert statement == sql.COMPLETE_PLAIN_JOBS
    assert params == [[1, 2], [1, 3], CLIENT]
    for odd in (
        Outcome(3, 1, JobState.RETRYABLE, error={"error": "boom"}, delay=1.0),
        Outcome(3, 1, JobState.COMPLETED, metadata={"output": 1}),
        Outcome(3, 1, JobState.SCHEDULED, delay=5.0, refund=1),
        Outcome(3, 1, JobState.CANCELLED),
    ):
        statement, *params = complete_statement([*plain, odd], CLIENT)
        assert statement == sql.COMPLETE_JOBS, odd
        assert params[0] == [1, 2, 3] and params[2] == CLIENT


async def test_both_statements_leave_plain_completions_alike(conn: Any) -> None:
    attempts = await running_attempts(conn, 6)
    by_plain, by_general = attempts[:3], attempts[3:]
    written = await conn.fetch(*complete_statement(completed(by_plain), CLIENT))
    assert sorted((r["id"], r["busy"]) for r in written) == [(i, False) for i, _ in by_plain]
    written = await conn.fetch(*general_complete_statement(completed(by_general), CLIENT))
    assert sorted((r["id"], r["busy"]) for r in written) == [(i, False) for i, _ in by_general]

    plain_rows = [dict(await conn.fetchrow(ROW, i)) for i, _ in by_plain]
    general_rows = [dict(await conn.fetchrow(ROW, i)) for i, _ in by_general]
    for row in plain_rows + general_rows:
        scheduled_at = row.pop("scheduled_at")
        assert scheduled_at is not None  # left as it was
    assert plain_rows == general_rows
    assert plain_rows[0] == {
        "state": "completed",
        "attempt": 1,
        "errors": [],
        "metadata": {},
        "finalized": True,
        "beat_cleared": True,
    }
    assert await completed_count(conn) == 6


async def test_a_plain_completion_meets_a_lock_as_busy_and_a_lost_attempt_untouched(
    conn: Any, dsn: str
) -> None:
    (locked, _), (lost, lost_attempt), (free, _) = await running_attempts(conn, 3)
    # The job was rescued and is running again elsewhere: that attempt is not ours.
    await conn.execute(
        "UPDATE pqw_job SET attempt = attempt + 1, attempted_by = attempted_by || 'other'::text"
        " WHERE id = $1",
        lost,
    )
    other = await connect(dsn)
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("SELECT 1 FROM pqw_job WHERE id = $1 FOR UPDATE", locked)
        outcomes = completed([(locked, 1), (lost, lost_attempt), (free, 1)])
        written = await conn.fetch(*complete_statement(outcomes, CLIENT))
        await transaction.rollback()
    finally:
        await other.close()

    assert sorted((r["id"], r["busy"]) for r in written) == [(locked, True), (free, False)]
    states = dict(
        await conn.fetch(
            "SELECT id, state::text FROM pqw_job WHERE id = ANY($1)", [locked, lost, free]
        )
    )
    assert states == {locked: "running", lost: "running", free: "completed"}
    assert await conn.fetchval("SELECT attempt FROM pqw_job WHERE id = $1", lost) == (
        lost_attempt + 1
    )
    assert await completed_count(conn) == 1

    # Tried again once the lock is gone, the busy one is written.
    written = await conn.fetch(*complete_statement(completed([(locked, 1)]), CLIENT))
    assert [(r["id"], r["busy"]) for r in written] == [(locked, False)]
    assert await completed_count(conn) == 2


def plan_work(node: dict[str, Any]) -> int:
    """Rows a plan node and its children produced or threw away, over all their loops."""
    own = (
        node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
        + node.get("Rows Removed by Filter", 0)
        + node.get("Rows Removed by Join Filter", 0)
    )
    return int(own) + sum(plan_work(child) for child in node.get("Plans", []))


ATTEMPTS = 400


def array_literal(values: list[Any]) -> str:
    """An array as an SQL literal (EXECUTE takes no bind parameters); test data only."""
    return "'{" + ",".join(str(v) for v in values) + "}'"


@pytest.mark.parametrize(
    ("name", "types", "extra"),
    [
        ("COMPLETE_PLAIN_JOBS", "bigint[], smallint[], text", [f"'{CLIENT}'"]),
        (
            "COMPLETE_JOBS",
            "bigint[], smallint[], text, text[], text[], text[], float8[], smallint[]",
            [f"'{CLIENT}'", array_literal(["completed"] * ATTEMPTS)]
            + [array_literal(["NULL"] * ATTEMPTS)] * 3
            + [array_literal([0] * ATTEMPTS)],
        ),
        ("HEARTBEAT_JOBS", "bigint[], smallint[]", []),
    ],
)
async def test_the_plan_postgres_keeps_after_five_runs_does_work_in_proportion_to_the_batch(
    conn: Any, name: str, types: str, extra: list[str]
) -> None:
    """Postgres plans a statement's generic plan without the arrays' sizes. One that
    joined two CTEs by a nested loop did the square of the batch's work (a flush of
    1,024 outcomes took 594 ms instead of 36); every step must stay in proportion."""
    attempts = await running_attempts(conn, ATTEMPTS)
    ids = array_literal([i for i, _ in attempts])
    numbers = array_literal([a for _, a in attempts])
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    await conn.execute(f"PREPARE flush({types}) AS {getattr(sql, name)}")
    transaction = conn.transaction()
    await transaction.start()
    try:
        plan = await conn.fetchval(
            f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE flush({', '.join([ids, numbers, *extra])})"
        )
    finally:
        await transaction.rollback()
    root = plan[0]["Plan"]  # pqw's codecs decode the JSON
    assert root["Actual Rows"] == ATTEMPTS  # every attempt written (or beaten), none busy
    # A quadratic step alone would be ATTEMPTS ** 2 = 160,000 rows.
    assert plan_work(root) < 40 * ATTEMPTS, json.dumps(root, indent=1)[:4000]
