"""The jobs screen and the job view, driven with keys against a real database."""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.widgets import Input, Static

from tests.helpers import wait_for
from tests.tui.driving import cell, notices, select_row, until
from tests.tui.seed import add_job_in_state, job_row, smtp_error
from tui.app import PqwApp
from tui.data.source import AdminSource
from tui.screens.confirm import ConfirmationModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.job import JobScreen
from tui.screens.jobs import JobsScreen
from tui.widgets.job_detail import JobDetail
from tui.widgets.jobs_table import JobsTable
from tui.widgets.queues_table import QueuesTable

from .test_actions import plain_text

SIZE = (120, 40)


def dashboard_app(dsn: str) -> PqwApp:
    # Reads the tests wait for are asked for (a filter, an action), not timed: a slow
    # rate keeps the app idle, and Pilot waits for idle after every key.
    return PqwApp(AdminSource(dsn), refresh=2.0)


def jobs_table(app: PqwApp) -> JobsTable:
    assert isinstance(app.screen, JobsScreen), app.screen
    return app.screen.query_one(JobsTable)


def shown(app: PqwApp) -> set[int]:
    """The ids of the jobs listed, once the jobs screen has read them."""
    screen = app.screen
    if not isinstance(screen, JobsScreen) or screen.page is None:
        return set()
    return {int(row.key.value or 0) for row in screen.query_one(JobsTable).ordered_rows}


async def open_queue(pilot: Any, app: PqwApp, queue: str) -> JobsTable:
    """Enter on the queue's row, as a person would, and wait for its jobs."""
    await select_row(pilot, app.dashboard.query_one(QueuesTable), queue)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, JobsScreen), "the jobs screen")
    screen = app.screen
    assert isinstance(screen, JobsScreen)
    await until(pilot, lambda: screen.page is not None, "the first page of jobs")
    return screen.query_one(JobsTable)


async def state_of(conn: Any, job_id: int) -> str | None:
    row = await job_row(conn, job_id)
    return None if row is None else str(row["state"])


async def test_open_a_queue_and_filter_by_state_and_kind(dsn: str, conn: Any) -> None:
    waiting = await add_job_in_state(conn, "available")
    failed = await add_job_in_state(conn, "discarded", attempt=5, errors=[smtp_error(5)])
    # A kind spelt with keys that act on this screen (t retry, d delete, x cancel).
    sms = await add_job_in_state(conn, "available", kind="td.x")
    elsewhere = await add_job_in_state(conn, "available", queue="default")
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_queue(pilot, app, "mail")
        await until(pilot, lambda: shown(app) == {waiting, failed, sms}, "the mail jobs only")
        # Newest first.
        assert [row.key.value for row in table.ordered_rows] == [
            str(sms),
            str(failed),
            str(waiting),
        ]
        assert cell(table, str(failed), "state") == "● discarded"
        assert "SMTP server closed" in cell(table, str(failed), "error")

        await pilot.press("end")  # the cursor on the oldest: a new filter starts at the top
        await pilot.press("7")  # discarded only
        await until(pilot, lambda: shown(app) == {failed}, "the discarded job only")
        assert table.cursor_row == 0
        await pilot.press("1")  # available only
        await until(pilot, lambda: shown(app) == {waiting, sms}, "the available jobs")
        await pilot.press("0")
        await until(pilot, lambda: shown(app) == {waiting, failed, sms}, "every state again")

        await pilot.press("slash")
        prompt = app.screen.query_one(Input)
        assert prompt.has_focus
        # Keys that mean something on this screen are typed, not run.
        await pilot.press(*"kind:td.x")
        assert prompt.value == "kind:td.x"
        await pilot.press("enter")
        await until(pilot, lambda: shown(app) == {sms}, "td.x jobs only")
        assert await state_of(conn, sms) == "available"  # the "d" typed deleted nothing

        await pilot.press("4")  # both filters: no retryable td.x jobs
        await until(pilot, lambda: app.screen.query_one("#jobs-empty").display, "empty line")
        empty = app.screen.query_one("#jobs-empty", Static)
        assert str(empty.content) == "No retryable td.x jobs in mail."

        await pilot.press("slash")
        await pilot.press("ctrl+a", "ctrl+k", "enter")  # an empty kind: every kind again
        await pilot.press("0")
        await until(pilot, lambda: shown(app) == {waiting, failed, sms}, "no kind filter")
        assert elsewhere not in shown(app)

        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        assert app.internal_errors == []


async def test_a_jobs_view_shows_its_errors_with_traces(dsn: str, conn: Any) -> None:
    job_id = await add_job_in_state(
        conn, "retryable", attempt=2, errors=[smtp_error(1), smtp_error(2)]
    )
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_queue(pilot, app, "mail")
        await select_row(pilot, table, str(job_id))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobScreen), "the job's view")
        detail = app.screen.query_one(JobDetail)
        text = plain_text(detail.content)
        assert f"Job {job_id}" in text and "● retryable" in text
        assert "Errors (2), newest first" in text
        assert text.count("ConnectionError: SMTP server closed the connection") == 4
        assert 'File "mailer.py", line 41, in send' in text
        assert '"to": "ana@example.com"' in text  # args as pretty JSON
        await pilot.press("escape")
        assert isinstance(app.screen, JobsScreen)


async def test_cancel_asks_first_and_a_no_changes_nothing(dsn: str, conn: Any) -> None:
    job_id = await add_job_in_state(conn, "available")
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_queue(pilot, app, "mail")
        await select_row(pilot, table, str(job_id))
        # n, escape, and enter (the focus starts on "Keep it") all leave the job be.
        for key, answer in (("x", "n"), ("d", "escape"), ("x", "enter")):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "question")
            await pilot.press(answer)
            await until(pilot, lambda: isinstance(app.screen, JobsScreen), "the list again")
        assert cell(table, str(job_id), "state") == "● available"
        assert await state_of(conn, job_id) == "available"
        assert app.pending.jobs.changes == {}

        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        await pilot.press("y")
        await wait_for(lambda: _state_is(conn, job_id, "cancelled"), message="state cancelled")
        await until(pilot, lambda: cell(table, str(job_id), "state") == "● cancelled", "shown")


async def test_retry_makes_a_discarded_job_available(dsn: str, conn: Any) -> None:
    job_id = await add_job_in_state(conn, "discarded", attempt=5, errors=[smtp_error(5)])
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_queue(pilot, app, "mail")
        await select_row(pilot, table, str(job_id))
        await pilot.press("p", "t")  # paused: only the action's own refresh could confirm
        assert cell(table, str(job_id), "state") == "retrying…"
        await wait_for(lambda: _state_is(conn, job_id, "available"), message="state available")
        await pilot.press("p")
        await until(pilot, lambda: cell(table, str(job_id), "state") == "● available", "shown")


async def test_delete_removes_a_finished_job_from_the_list_or_its_view(dsn: str, conn: Any) -> None:
    completed = await add_job_in_state(conn, "completed", attempt=1)
    cancelled = await add_job_in_state(conn, "cancelled")
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_queue(pilot, app, "mail")
        await select_row(pilot, table, str(completed))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        await pilot.press("y")
        await until(pilot, lambda: shown(app) == {cancelled}, "the row gone")
        assert await job_row(conn, completed) is None

        await select_row(pilot, table, str(cancelled))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobScreen), "the job's view")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen), "back to the list")
        await until(pilot, lambda: shown(app) == set(), "that row gone too")
        assert await job_row(conn, cancelled) is None


async def test_a_refused_action_is_a_notification_and_changes_nothing(dsn: str, conn: Any) -> None:
    job_id = await add_job_in_state(conn, "running", attempt=1)
    seen: list[Message] = []
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        table = await open_queue(pilot, app, "mail")
        await select_row(pilot, table, str(job_id))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        await pilot.press("y")
        refusal = f"job {job_id} is running: cancel it before deleting it"
        await until(pilot, lambda: refusal in notices(seen), "the engine's refusal")
        await until(pilot, lambda: cell(table, str(job_id), "state") == "● running", "unchanged")
        assert await state_of(conn, job_id) == "running"
        assert app.is_running and app.internal_errors == []
        assert not any("Traceback" in n for n in notices(seen))


async def _state_is(conn: Any, job_id: int, state: str) -> bool:
    return await state_of(conn, job_id) == state
