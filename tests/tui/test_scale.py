"""The dashboard at production scale, against a real database: search, bulk actions that never
block a worker, live queue concurrency, schedule edits and run-now, and the read-only mode."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from textual import events
from textual.message import Message
from textual.widgets import Input

from engine import Client, InsertOpts, Job
from engine.admin import BULK_BATCH, Admin, BulkBatchTooSlow, BulkStep, JobQuery, JobState
from tests.compat import Pooled
from tests.helpers import wait_for
from tests.tui.driving import cell, notices, select_row, until
from tests.tui.seed import add_job_in_state, add_periodic, add_running_worker
from tests.tui.test_jobs import dashboard_app, open_queue, shown
from tui.app import PqwApp
from tui.data.feed import ActionFailed
from tui.data.source import AdminSource
from tui.launch import parse_options
from tui.screens.bulk import BulkModal
from tui.screens.confirm import ConfirmationModal
from tui.screens.jobs import JobsScreen
from tui.screens.prompt import PromptModal
from tui.screens.worker import WorkerScreen
from tui.widgets.causes_table import CausesTable, cause_key
from tui.widgets.queues_table import QueuesTable
from tui.widgets.schedules_table import SchedulesTable
from tui.widgets.status_bar import StatusBar
from tui.widgets.workers_table import WorkersTable


async def test_search_by_args_kind_prefix_and_id_combines_with_the_state(
    dsn: str, conn: Any
) -> None:
    seven = await add_job_in_state(conn, "discarded", args={"customer": 7})
    await add_job_in_state(conn, "available", args={"customer": 7})
    await add_job_in_state(conn, "discarded", args={"customer": 8})
    report = await add_job_in_state(conn, "available", kind="email.report")
    app = dashboard_app(dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot, app, "mail")
        await pilot.press("7", "slash")  # discarded, then search
        await pilot.press(*"args.customer=7", "enter")
        await until(pilot, lambda: shown(app) == {seven}, "the discarded jobs of customer 7")
        await pilot.press("0", "slash", "ctrl+a", "ctrl+k")
        await pilot.press(*"kind:email.rep*", "enter")
        await until(pilot, lambda: shown(app) == {report}, "the kind prefix")
        await pilot.press("slash", "ctrl+a", "ctrl+k", *f"id:{seven}", "enter")
        await until(pilot, lambda: shown(app) == {seven}, "one job by id")


async def test_bulk_retry_of_100k_jobs_shows_progress_and_never_blocks_a_worker(
    dsn: str, conn: Any
) -> None:
    inserter = Client(dsn, auto_migrate=False)
    to_bulk, to_work = InsertOpts(queue="bulk"), InsertOpts(queue="work")
    for start in range(0, 100_000, 20_000):  # COPY, in a few round trips
        await inserter.insert_many(
            [("bulk.failed", {"n": i}, to_bulk) for i in range(start, start + 20_000)]
        )
    await conn.execute(
        "UPDATE pqw_job SET state = 'discarded', finalized_at = now(), attempt = 1"
        " WHERE queue = 'bulk'"
    )
    # The worker's work never runs out (each job queues its successor), so whenever the
    # bulk action runs, however long it takes, a worker that is not blocked completes jobs.
    # Each job takes 20 ms, as real work would: a worker chaining no-op jobs flat out
    # would be a busy loop inside the dashboard's own process.
    await inserter.insert_many([("work.noop", {"n": i}, to_work) for i in range(100)])
    await inserter.close()
    worker = Client(dsn, queues={"work": 4}, auto_migrate=False, poll_interval=0.2)

    @worker.job("work.noop", queue="work")
    async def noop(job: Job) -> None:
        await asyncio.sleep(0.02)  # the job's work, not a wait for anything
        await worker.insert("work.noop", {"n": job.args["n"]}, opts=to_work)

    app = dashboard_app(dsn)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await open_queue(pilot, app, "bulk")
            await pilot.press("7")
            await until(pilot, lambda: len(shown(app)) == 50, "the first page of discarded jobs")
            await worker.start()
            await until(pilot, lambda: worker.completed_count > 0, "the worker draining")
            await pilot.press("T")
            await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
            question = str(app.screen.query_one("#confirm-question").content)
            assert "100,000 discarded jobs in bulk" in question
            await pilot.press("y")
            await until(pilot, lambda: isinstance(app.screen, BulkModal), "the progress")
            modal = app.screen
            assert isinstance(modal, BulkModal)
            await until(pilot, lambda: modal.outcome.acted >= 1_000, "a first batch", timeout=30)
            await until(pilot, lambda: not isinstance(app.screen, BulkModal), "done", timeout=120)
            assert modal.outcome.acted == 100_000 and modal.outcome.skipped == 0
    finally:
        await worker.stop()
    # While the bulk retry ran (from its first batch's commit to its last's), the worker
    # kept completing jobs of the same table: each batch stamps its jobs' scheduled_at.
    # Two statements, not one join: with the table's statistics from before the run, the
    # planner may rescan the 100,000 bulk rows' aggregate once per completed work job.
    stamps = await conn.fetchrow(
        "SELECT min(scheduled_at) AS first, max(scheduled_at) AS last"
        " FROM pqw_job WHERE queue = 'bulk'"
    )
    during = await conn.fetchval(
        "SELECT count(*) FROM pqw_job WHERE queue = 'work' AND state = 'completed'"
        " AND finalized_at > $1 AND finalized_at < $2",
        stamps["first"],
        stamps["last"],
    )
    assert during > 0
    states = await conn.fetch(
        "SELECT state::text, count(*) AS n FROM pqw_job WHERE queue = 'bulk' GROUP BY 1"
    )
    assert {r["state"]: r["n"] for r in states} == {"available": 100_000}


async def test_stopping_a_bulk_action_leaves_what_was_done_done(dsn: str, conn: Any) -> None:
    for _ in range(3):
        await add_job_in_state(conn, "discarded")
    app = dashboard_app(dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot, app, "mail")
        await until(pilot, lambda: len(shown(app)) == 3, "the jobs")
        await pilot.press("space")  # mark the first (newest) job
        await pilot.press("D")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        assert "1 marked job" in str(app.screen.query_one("#confirm-question").content)
        await pilot.press("y")
        await until(pilot, lambda: len(shown(app)) == 2, "the marked job deleted")
    assert await conn.fetchval("SELECT count(*) FROM pqw_job") == 2


async def test_set_a_queues_concurrency_live(dsn: str, conn: Any) -> None:
    await add_job_in_state(conn, "available", queue="mail")
    app = dashboard_app(dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        queues = app.dashboard.query_one(QueuesTable)
        await select_row(pilot, queues, "mail")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, PromptModal), "the prompt")
        await pilot.press(*"x", "enter")
        await until(pilot, lambda: app.screen.query_one("#prompt-error").display, "refused")
        await pilot.press("backspace", "3", "enter")
        await until(pilot, lambda: cell(queues, "mail", "slots") == "3 set", "the slots shown")
    assert await conn.fetchval("SELECT concurrency FROM pqw_queue WHERE name = 'mail'") == 3


async def test_edit_a_schedule_live_and_run_it_now(dsn: str, conn: Any) -> None:
    await add_periodic(conn)
    app = dashboard_app(dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        schedules = app.dashboard.query_one(SchedulesTable)
        await select_row(pilot, schedules, "report.build")
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, PromptModal), "the prompt")
        prompt = app.screen.query_one(Input)
        prompt.value = "every 0s"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query_one("#prompt-error").display, "refused")
        prompt.value = "cron 0 3 * * * Europe/Berlin"
        await pilot.press("enter")
        await until(
            pilot,
            lambda: cell(schedules, "report.build", "schedule") == "cron 0 3 * * * Europe/Berlin",
            "the new schedule",
        )
        row = await conn.fetchrow("SELECT spec, next_run_at FROM pqw_periodic_job")
        assert row["spec"] == {"cron": "0 3 * * *", "tz": "Europe/Berlin"}
        await pilot.press("n")

        async def due() -> bool:
            return bool(await conn.fetchval("SELECT next_run_at <= now() FROM pqw_periodic_job"))

        await wait_for(due, message="the schedule due now")


async def test_a_role_that_may_only_read_gets_a_read_only_dashboard(dsn: str, conn: Any) -> None:
    await add_running_worker(conn)
    role = f"pqw_reader_{int(time.monotonic() * 1000) % 1_000_000}"
    database = await conn.fetchval("SELECT current_database()")
    await conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        await conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        reader_dsn = re.sub(r"postgresql://[^@]*@", f"postgresql://{role}@", dsn, count=1)
        app = dashboard_app(reader_dsn)
        seen: list[Any] = []
        async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
            await until(pilot, lambda: app.read_only, "read-only found from the grants")
            bar = app.dashboard.query_one(StatusBar)
            await until(
                pilot,
                lambda: "read-only" in " ".join(str(s.content) for s in bar.query("Static")),
                "the header says so",
            )
            workers = app.dashboard.query_one(WorkersTable)
            await select_row(pilot, workers, "feed")
            assert not workers.check_action("toggle_run", ())  # hidden
            app.cluster_actions.toggle_worker("feed")  # the palette's way in: refused
            await pilot.pause()
        assert await conn.fetchval("SELECT enabled FROM pqw_persistent_worker") is True
        assert app.internal_errors == []
    finally:
        await conn.execute(f'REVOKE ALL ON DATABASE "{database}" FROM {role}')
        await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        await conn.execute(f"REVOKE ALL ON SCHEMA public FROM {role}")
        await conn.execute(f"DROP ROLE {role}")


async def test_read_only_flag_hides_and_refuses_every_action(dsn: str, conn: Any) -> None:
    await add_running_worker(conn)
    app = dashboard_app(dsn)
    app.read_only = True
    app._grants_checked = True
    async with app.run_test(size=(120, 40)) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await select_row(pilot, workers, "feed")
        await pilot.press("space")
        await pilot.pause()
    assert await conn.fetchval("SELECT enabled FROM pqw_persistent_worker") is True


async def test_the_dashboard_behind_pgbouncer_with_pool_mode_and_direct_dsn(
    pooled: Pooled,
) -> None:
    argv = ["--dsn", pooled.url, "--pool-mode", pooled.mode]
    if pooled.direct is not None:
        argv += ["--direct-dsn", pooled.direct]
    options = parse_options(argv)
    admin = await Admin.connect(pooled.url, **pooled.options)
    try:
        await admin.set_queue_concurrency("mail", 2)  # a queue the dashboard must show
        source = AdminSource(
            options.dsn or "", direct_dsn=options.direct_dsn, pool_mode=options.pool_mode
        )
        app = PqwApp(source, refresh=2.0)
        async with app.run_test(size=(120, 40)) as pilot:
            queues = app.dashboard.query_one(QueuesTable)
            await until(pilot, lambda: cell(queues, "mail", "slots") == "2 set", "the queue")
            await select_row(pilot, queues, "mail")
            await pilot.press("space")  # pause it through the pooler
            await until(pilot, lambda: "paused" in cell(queues, "mail", "status"), "paused")
        assert app.internal_errors == []
        assert [q.paused for q in await admin.queue_state_counts() if q.queue == "mail"] == [True]
    finally:
        await admin.close()


async def test_read_only_worker_screen_hides_and_refuses_the_reset(dsn: str, conn: Any) -> None:
    await add_running_worker(conn)
    await conn.execute(
        "INSERT INTO pqw_persistent_state (name, state) VALUES ('feed', '{\"offset\": 7}')"
    )
    seen: list[Message] = []
    app = dashboard_app(dsn)
    app.read_only = True
    app._grants_checked = True
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await select_row(pilot, app.dashboard.query_one(WorkersTable), "feed")
        await pilot.press("enter")  # reading a worker's story is not an action
        await until(pilot, lambda: isinstance(app.screen, WorkerScreen), "the worker screen")
        screen = app.screen
        assert isinstance(screen, WorkerScreen)
        shown = {b.binding.action for b in screen.active_bindings.values() if b.enabled}
        assert "reset_state" not in shown and "request('toggle')" not in shown
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmationModal)
        screen.action_reset_state()  # as the palette would: refused, with a notice
        await until(pilot, lambda: any("read-only" in n for n in notices(seen)), "the refusal")
        assert not isinstance(app.screen, ConfirmationModal)
    assert await conn.fetchval("SELECT state FROM pqw_persistent_state") == {"offset": 7}


async def test_failures_by_cause_say_how_exact_and_enter_lists_one_kind(
    dsn: str, conn: Any
) -> None:
    smtp = [{"attempt": 1, "error": "SMTPError: 421 try later\nTraceback ..."}]
    mail_ids = {
        await add_job_in_state(conn, "retryable", attempt=1, errors=smtp),
        await add_job_in_state(conn, "discarded", attempt=1, errors=smtp),
    }
    await add_job_in_state(
        conn, "discarded", kind="report.build", attempt=1, errors=[{"error": "KeyError: 'x'"}]
    )
    app = dashboard_app(dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot, app, "mail")
        await pilot.press("f")
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        await until(pilot, lambda: screen.causes is not None, "the causes")
        panel = screen.query_one("#causes-panel")
        assert "all 3 failures" in str(panel.border_title)
        causes = screen.query_one(CausesTable)
        await until(pilot, lambda: causes.row_count == 2, "two causes")
        key = cause_key(next(g for g in screen.causes.groups if g.kind == "email.send"))
        assert cell(causes, key, "error") == "SMTPError: 421 try later"  # the first line
        assert cell(causes, key, "jobs") == "2"
        await select_row(pilot, causes, key)
        await pilot.press("enter")
        await until(pilot, lambda: shown(app) == mail_ids, "the email.send failures only")


async def test_a_bulk_batch_stopped_for_time_is_tried_again_smaller(dsn: str, conn: Any) -> None:
    for _ in range(30):
        await add_job_in_state(conn, "discarded")
    admin = await Admin.connect(dsn)
    sizes: list[int] = []

    async def batch(below: int | None, size: int) -> BulkStep:
        sizes.append(size)
        if len(sizes) == 1:  # the database stopped the first batch: it changed nothing
            raise ActionFailed("a batch took too long") from BulkBatchTooSlow("stopped")
        query = JobQuery(states=(JobState.DISCARDED,))
        return await admin.bulk_step("retry", query=query, below=below, batch=size)

    app = dashboard_app(dsn)
    outcomes: list[Any] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            modal = BulkModal("Retry 30 jobs", 30, batch, "retried")
            app.push_screen(modal, outcomes.append)
            await until(pilot, lambda: bool(outcomes), "the bulk action done")
    finally:
        await admin.close()
    assert sizes[:2] == [BULK_BATCH, BULK_BATCH // 2]
    assert outcomes[0].acted == 30 and outcomes[0].error is None
    assert await conn.fetchval("SELECT count(*) FROM pqw_job WHERE state = 'available'") == 30


async def test_T_typed_right_after_clearing_a_search_asks_about_the_retry(
    dsn: str, conn: Any
) -> None:
    """Enter then T as fast as a person types: T went into the closing search line (a
    text search for "T", nothing asked) because enter acted only after a round trip."""
    seven = await add_job_in_state(conn, "discarded", args={"customer": 7})
    await add_job_in_state(conn, "discarded", args={"customer": 8})
    app = dashboard_app(dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot, app, "mail")
        await pilot.press("slash", *"args.customer=7", "enter")
        await until(pilot, lambda: shown(app) == {seven}, "the search")
        await pilot.press("slash", "ctrl+a", "ctrl+k")
        app.post_message(events.Key("enter", None))  # no waiting between the two
        app.post_message(events.Key("T", "T"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        assert "2 jobs in mail" in str(app.screen.query_one("#confirm-question").content)
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, JobsScreen) and screen.where.text is None


async def test_esc_twice_stops_the_batch_under_way_and_it_changes_nothing(
    dsn: str, conn: Any
) -> None:
    for _ in range(30):
        await add_job_in_state(conn, "discarded")
    admin = await Admin.connect(dsn)
    query = JobQuery(states=(JobState.DISCARDED,))
    stuck = asyncio.Event()

    async def batch(below: int | None, size: int) -> BulkStep:
        if below is not None:  # the second batch: a database that does not answer
            stuck.set()
            await asyncio.Event().wait()
        return await admin.bulk_step("retry", query=query, below=below, batch=10)

    app = dashboard_app(dsn)
    outcomes: list[Any] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(BulkModal("Retry 30 jobs", 30, batch, "retried"), outcomes.append)
            await until(pilot, stuck.is_set, "the second batch under way")
            await pilot.press("escape")  # after this batch...
            assert not outcomes
            await pilot.press("escape")  # ...no: now
            await until(pilot, lambda: bool(outcomes), "the modal closed")
    finally:
        await admin.close()
    assert outcomes[0].cancelled and outcomes[0].acted == 10
    assert await conn.fetchval("SELECT count(*) FROM pqw_job WHERE state = 'available'") == 10
