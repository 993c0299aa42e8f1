"""Exact job counts at any table size: kept by triggers in the job's own transaction, folded
by the leader; the search, bulk actions and failures the dashboard runs on them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engine import Client, Job, JobSnooze
from engine.admin import Admin, JobQuery, JobState
from engine.admin.bulk_pace import (
    BULK_BATCH,
    LEAST_BATCH,
    QUICK_SECONDS,
    SLOW_SECONDS,
    BatchPace,
)
from engine.db.pool import connect
from engine.sql.job_search import BULK_BATCH_BUDGET_MS, bound_bulk_act, prefix_bound
from tests.helpers import wait_for


async def true_counts(conn: Any) -> dict[tuple[str, str], int]:
    rows = await conn.fetch("SELECT queue, state::text, count(*) AS n FROM pqw_job GROUP BY 1, 2")
    return {(r["queue"], r["state"]): r["n"] for r in rows}


async def shown_counts(admin: Admin) -> dict[tuple[str, str], int]:
    return {
        (q.queue, state.value): n
        for q in await admin.queue_state_counts()
        for state, n in q.counts.items()
        if n
    }


async def test_counts_match_the_table_through_inserts_runs_failures_and_deletes(
    dsn: str, make_client: Callable[..., Client]
) -> None:
    client = make_client(queues={"default": 4, "mail": 2})
    done = asyncio.Event()

    @client.job("ok", queue="default")
    async def ok(job: Job) -> None:
        return None

    @client.job("bad", queue="mail", max_attempts=1)
    async def bad(job: Job) -> None:
        raise RuntimeError("no")

    @client.job("later", queue="mail")
    async def later(job: Job) -> None:
        done.set()
        raise JobSnooze(3600)

    admin = await Admin.connect(dsn)
    conn = await connect(dsn)
    try:
        await client.insert_many([("ok", {"n": i}) for i in range(300)])  # COPY
        for i in range(5):
            await client.insert("bad", {"n": i})
        await client.insert("later", {})
        assert await shown_counts(admin) == await true_counts(conn)
        await client.start()  # runs, fails, snoozes, and folds as leader

        async def settled() -> bool:
            shown = await shown_counts(admin)
            return (
                shown.get(("default", "completed")) == 300
                and shown.get(("mail", "discarded")) == 5
                and shown.get(("mail", "scheduled")) == 1
            )

        await wait_for(settled, timeout=20, message="the jobs to finish")
        assert await shown_counts(admin) == await true_counts(conn)
        # The leader folds the deltas: few remain, and the counts still match.
        await wait_for(
            lambda: conn.fetchval("SELECT count(*) < 10 FROM pqw_job_count_delta"),
            message="the deltas folded",
        )
        await conn.execute("DELETE FROM pqw_job WHERE kind = 'ok' AND id % 3 = 0")
        await conn.execute("UPDATE pqw_job SET queue = 'moved' WHERE kind = 'bad'")
        assert await shown_counts(admin) == await true_counts(conn)
        mail = next(q for q in await admin.queue_state_counts() if q.queue == "mail")
        assert mail.failed_recently == 5 and mail.failure_rate == 1.0
        await conn.execute("TRUNCATE pqw_job")
        assert await shown_counts(admin) == {}
    finally:
        await conn.close()
        await admin.close()


async def test_a_count_is_exact_inside_an_open_transaction_and_invisible_outside(
    dsn: str,
) -> None:
    admin = await Admin.connect(dsn)
    conn = await connect(dsn)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("INSERT INTO pqw_job (kind, max_attempts) VALUES ('a', 1), ('b', 1)")
        # Another insert is not held up by the open transaction's counts.
        other = await connect(dsn)
        try:
            await asyncio.wait_for(
                other.execute("INSERT INTO pqw_job (kind, max_attempts) VALUES ('c', 1)"), 5
            )
        finally:
            await other.close()
        assert await shown_counts(admin) == {("default", "available"): 1}
        await tx.commit()
        assert await shown_counts(admin) == {("default", "available"): 3}
    finally:
        await conn.close()
        await admin.close()


async def test_latency_is_the_age_of_the_oldest_available_job(dsn: str) -> None:
    admin = await Admin.connect(dsn)
    conn = await connect(dsn)
    try:
        for priority, age in ((3, 5), (1, 60), (0, 20)):
            await conn.execute(
                "INSERT INTO pqw_job (kind, queue, priority, max_attempts, scheduled_at)"
                " VALUES ('k', 'q', $1, 1, now() - $2 * interval '1 second')",
                priority,
                age,
            )
        queue = next(q for q in await admin.queue_state_counts() if q.queue == "q")
        assert queue.latency is not None and 60 <= queue.latency < 70
        assert queue.failure_rate is None
    finally:
        await conn.close()
        await admin.close()


async def test_search_filters_combine_and_page_in_each_order(dsn: str) -> None:
    admin = await Admin.connect(dsn)
    conn = await connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO pqw_job (kind, queue, state, max_attempts, args, metadata, finalized_at)
            SELECT CASE WHEN n % 2 = 0 THEN 'email.send' ELSE 'report.build' END,
                   CASE WHEN n % 3 = 0 THEN 'mail' ELSE 'default' END,
                   CASE WHEN n % 5 = 0 THEN 'discarded' ELSE 'available' END::pqw_job_state,
                   3, jsonb_build_object('customer', n % 7, 'note', 'Order ' || n),
                   jsonb_build_object('team', n % 2),
                   CASE WHEN n % 5 = 0 THEN now() - n * interval '1 second' END
            FROM generate_series(1, 210) n
            """
        )

        async def ids(query: JobQuery, page: int = 1000) -> list[int]:
            found: list[int] = []
            after = None
            while True:
                jobs = await admin.search_jobs(query, after=after, limit=page)
                found += [j.id for j in jobs]
                if len(jobs) < page:
                    return found
                after = jobs[-1]

        async def expect(where: str) -> list[int]:
            rows = await conn.fetch(f"SELECT id FROM pqw_job WHERE {where} ORDER BY id DESC")
            return [r["id"] for r in rows]

        every = await ids(JobQuery(), page=7)
        assert every == await expect("true")
        assert await ids(JobQuery(queue="mail", states=(JobState.DISCARDED,)), page=4) == (
            await expect("queue = 'mail' AND state = 'discarded'")
        )
        assert await ids(JobQuery(kind="email.*", queue="default"), page=9) == (
            await expect("kind LIKE 'email.%' AND queue = 'default'")
        )
        assert await ids(JobQuery(kind="email.*_")) == []  # _ is a character, not a wildcard
        assert await ids(JobQuery(args={"customer": 3}), page=5) == (
            await expect("args @> '{\"customer\": 3}'")
        )
        assert await ids(JobQuery(metadata={"team": 1}, kind="report.build")) == (
            await expect("metadata @> '{\"team\": 1}' AND kind = 'report.build'")
        )
        assert await ids(JobQuery(text="order 10")) == await expect("args::text ILIKE '%order 10%'")
        assert await ids(JobQuery(job_id=42)) == [42]
        by_finalized = await ids(JobQuery(states=(JobState.DISCARDED,), order="finalized"), page=6)
        rows = await conn.fetch(
            "SELECT id FROM pqw_job WHERE state = 'discarded' ORDER BY finalized_at DESC, id DESC"
        )
        assert by_finalized == [r["id"] for r in rows]

        async def expect_finalized(where: str) -> list[int]:
            rows = await conn.fetch(
                f"SELECT id FROM pqw_job WHERE finalized_at IS NOT NULL AND {where}"
                " ORDER BY finalized_at DESC, id DESC"
            )
            return [r["id"] for r in rows]

        # A queue's 14 finished of 42: 14² >= 4 * 42 walks the time index, 14² < 6 * 42
        # sorts the queue's own; the same jobs in the same order either way.
        for page in (4, 6):
            assert await ids(JobQuery(queue="mail", order="finalized"), page=page) == (
                await expect_finalized("queue = 'mail'")
            )
        assert await ids(JobQuery(kind="report.build", order="finalized"), page=5) == (
            await expect_finalized("kind = 'report.build'")
        )
        assert (
            await ids(JobQuery(queue="mail", states=(JobState.AVAILABLE,), order="finalized")) == []
        )
        assert await ids(JobQuery(kind="email.*"), page=9) == await expect("kind LIKE 'email.%'")
        assert await ids(JobQuery(kind="*"), page=50) == every
        assert await ids(JobQuery(kind="report.build", states=(JobState.DISCARDED,)), page=3) == (
            await expect("kind = 'report.build' AND state = 'discarded'")
        )
        count = await admin.count_jobs(JobQuery(queue="mail"))
        assert count.exact and count.n == 70
        capped = await admin.count_jobs(JobQuery(kind="email.*"), cap=50)
        assert not capped.exact and capped.n == 50
        groups = await admin.failure_groups()
        assert sum(g.jobs for g in groups) == 42
        # Bounded: the newest 5 failures only (by when they failed), and one queue's.
        newest = await admin.failure_groups(scanned=5)
        assert sum(g.jobs for g in newest) == 5
        assert max(g.last_failed_at for g in newest) == max(g.last_failed_at for g in groups)
        mail = await admin.failure_groups("mail")
        assert sum(g.jobs for g in mail) == 14 and {q for g in mail for q in g.queues} == {"mail"}
    finally:
        await conn.close()
        await admin.close()


async def test_a_bulk_retry_leaves_a_job_whose_unique_key_another_holds(dsn: str) -> None:
    admin = await Admin.connect(dsn)
    conn = await connect(dsn)
    try:
        # Two discarded runs of one unique job: only one of them can be live again.
        await conn.execute(
            """
            INSERT INTO pqw_job (kind, state, max_attempts, attempt, finalized_at,
                                 unique_key, unique_states)
            SELECT 'u', 'discarded', 1, 1, now(), '\\x01'::bytea, B'11110001'
            FROM generate_series(1, 2)
            """
        )
        await conn.execute(
            "INSERT INTO pqw_job (kind, state, max_attempts, attempt, finalized_at)"
            " VALUES ('plain', 'discarded', 1, 1, now())"
        )
        query = JobQuery(states=(JobState.DISCARDED,))
        step = await admin.bulk_step("retry", query=query)
        assert (step.acted, step.skipped, step.next_below) == (2, 1, None)
        rows = await conn.fetch("SELECT kind, state::text FROM pqw_job ORDER BY id")
        assert sorted((r["kind"], r["state"]) for r in rows) == [
            ("plain", "available"),
            ("u", "available"),
            ("u", "discarded"),
        ]
    finally:
        await conn.close()
        await admin.close()


async def test_a_bulk_action_walks_every_batch_and_only_what_the_filter_matches(
    dsn: str,
) -> None:
    admin = await Admin.connect(dsn)
    conn = await connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO pqw_job (kind, queue, state, max_attempts)"
            " SELECT CASE WHEN n % 4 = 0 THEN 'keep' ELSE 'go' END, 'q', 'available', 1"
            " FROM generate_series(1, 250) n"
        )
        below, steps, acted = None, 0, 0
        while True:
            step = await admin.bulk_step("delete", query=JobQuery(kind="go"), below=below, batch=40)
            steps, acted = steps + 1, acted + step.acted
            if step.next_below is None:
                break
            below = step.next_below
        assert acted == 188 and steps == 5  # 250 less the 62 multiples of 4
        assert await conn.fetchval("SELECT count(*) FROM pqw_job WHERE kind = 'go'") == 0
        assert await conn.fetchval("SELECT count(*) FROM pqw_job WHERE kind = 'keep'") == 62
    finally:
        await conn.close()
        await admin.close()


def test_a_kind_prefix_is_the_range_up_to_its_bound() -> None:
    assert prefix_bound("email.") == "email/"
    assert prefix_bound("a\U0010ffff") == "b"  # the last character cannot grow: the one before
    assert prefix_bound("\U0010ffff") is None  # every string from here up
    assert prefix_bound("x\ud7ff") == "x\ue000"  # past the surrogates
    assert prefix_bound("") is None


def test_a_slow_batch_halves_the_next_and_quick_ones_grow_it_back() -> None:
    pace = BatchPace()
    assert pace.size == BULK_BATCH
    pace.took(SLOW_SECONDS + 1)
    assert pace.size == BULK_BATCH // 2
    pace.took(1.0)  # neither slow nor quick: as it is
    assert pace.size == BULK_BATCH // 2
    pace.took(QUICK_SECONDS / 2)
    assert pace.size == BULK_BATCH  # never above the most
    pace.took(QUICK_SECONDS / 2)
    assert pace.size == BULK_BATCH
    while pace.shrink():
        pass
    assert pace.size == LEAST_BATCH and not pace.shrink()


def test_a_batch_change_gets_what_its_search_left_of_the_budget() -> None:
    assert bound_bulk_act(0) == f"SET LOCAL statement_timeout = {BULK_BATCH_BUDGET_MS}"
    assert bound_bulk_act(3_000) == f"SET LOCAL statement_timeout = {BULK_BATCH_BUDGET_MS - 3_000}"
    assert bound_bulk_act(10_000) == "SET LOCAL statement_timeout = 1000"  # at least a second
