"""Hostile names and huge values on every screen: shown as text, never as markup, and bounded.

Worker names, kinds, queues, args, errors and schedule ids are whatever users
(or their code, or a producer writing rows itself) made them: the dashboard
draws them literally, keeps refreshing, and never draws more than a screenful.
"""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Button, Input, Static, TextArea

from tests.tui.driving import app_of, cell, select_row, until
from tests.tui.seed import add_client, add_job_in_state, add_periodic, add_worker
from tui.app import PqwApp
from tui.data.source import AdminSource
from tui.screens.confirm import ConfirmationModal
from tui.screens.job import JobScreen
from tui.screens.jobs import JobsScreen
from tui.screens.prompt import PromptModal
from tui.screens.reconfigure import ReconfigureScreen
from tui.widgets.causes_table import CausesTable
from tui.widgets.job_detail import JobDetail
from tui.widgets.jobs_table import JobsTable
from tui.widgets.keyed_table import COLUMN_MAX
from tui.widgets.kind_filter import KindFilter
from tui.widgets.queues_table import QueuesTable
from tui.widgets.schedules_table import SchedulesTable
from tui.widgets.status_bar import StatusBar
from tui.widgets.workers_table import WorkersTable

SIZE = (140, 44)
BOLD_CLOSE = "[/b]oops"
REGION = "sync[eu-west]"
LINK = "[link=file:///etc/passwd]x[/link]"
KIND = "[/bold]markup.kind"
ESCAPE = "evil\x1b[2J"


def dashboard_app(dsn: str) -> PqwApp:
    return PqwApp(AdminSource(dsn), refresh=2.0)


def rendered(renderable: Any, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def title_of(widget: Any) -> str:
    return widget._border_title.plain if widget._border_title is not None else ""


async def palette_prompts(pilot: Any, query: str) -> list[str]:
    """What the palette lists for `query` (typed into it), as plain text."""
    app = app_of(pilot)
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
    await pilot.press(*query)

    def prompts() -> list[str]:
        commands = app.screen.query_one(CommandList)
        return [str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)]

    await until(pilot, prompts, f"commands for {query!r}")
    found = prompts()
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette closed")
    return found


async def test_markup_in_worker_names_leaves_the_palette_and_dialogs_working(
    dsn: str, conn: Any
) -> None:
    await add_client(conn, persistent=(REGION,))
    for name in (BOLD_CLOSE, REGION, ESCAPE):
        await add_worker(conn, name, config={"note": "[b]"})
    await conn.execute(
        "UPDATE pqw_persistent_worker SET last_error = $1, progress = $2 WHERE name = $3",
        f"ValueError: {LINK} \x1b]0;pwned\x07",
        {"at": "[/i]"},
        BOLD_CLOSE,
    )
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await until(pilot, lambda: cell(workers, BOLD_CLOSE, "name") == BOLD_CLOSE, "the names")
        assert cell(workers, REGION, "name") == REGION
        assert cell(workers, ESCAPE, "name") == "evil\\x1b[2J"  # no escape reaches the terminal
        assert LINK in cell(workers, BOLD_CLOSE, "error")
        assert "\x1b" not in cell(workers, BOLD_CLOSE, "error")
        assert cell(workers, BOLD_CLOSE, "progress") == "at=[/i]"

        # The palette: every name literal, in the discovery list and in search hits.
        found = await palette_prompts(pilot, "oops")
        assert any(f"Stop worker {BOLD_CLOSE}" in p for p in found), found
        found = await palette_prompts(pilot, "eu-west")
        assert any(f"Reconfigure worker {REGION}" in p for p in found), found
        found = await palette_prompts(pilot, "evil")
        assert all("\x1b" not in p for p in found), found

        # The reconfigure dialog and the delete question name the worker literally.
        await select_row(pilot, workers, BOLD_CLOSE)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ReconfigureScreen), "the dialog")
        dialog = app.screen.query_one("#reconfigure-dialog")
        assert title_of(dialog) == f"Reconfigure {BOLD_CLOSE}"
        assert '"note": "[b]"' in app.screen.query_one(TextArea).text
        await pilot.press("escape")
        app.cluster_actions.delete_worker(BOLD_CLOSE)
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        assert title_of(app.screen.query_one("#confirm-dialog")) == f"Delete worker {BOLD_CLOSE}?"
        await pilot.press("n")
        assert app.internal_errors == []


async def test_markup_in_kinds_queues_args_and_errors_keeps_every_screen_refreshing(
    dsn: str, conn: Any
) -> None:
    error = {
        "attempt": 1,
        "at": "2026-03-14T09:26:41+00:00",
        "error": f"RuntimeError: [/red] {LINK}",
        "trace": "Traceback:\n  [bold]frame[/]\nRuntimeError: [/red]",
    }
    linked = await add_job_in_state(conn, "available", kind=LINK, args={"q": "[/]"})
    bolded = await add_job_in_state(
        conn, "discarded", kind=KIND, attempt=1, errors=[error], args={"x": "[b]"}
    )
    # Rows a producer wrote itself, past every check of pqw's own inserts.
    await conn.execute(
        "INSERT INTO pqw_job (kind, queue, max_attempts, tags) VALUES ($1, 'odd', 5, $2)",
        ESCAPE,
        ["[/t]", "tag\x1b"],
    )
    await add_periodic(conn, f"tick {LINK}")
    seen: list[Message] = []
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        queues = app.dashboard.query_one(QueuesTable)
        schedules = app.dashboard.query_one(SchedulesTable)
        await until(pilot, lambda: cell(queues, "odd", "queue") == "odd", "the odd queue")
        assert cell(schedules, f"tick {LINK}", "id") == f"tick {LINK}"

        await select_row(pilot, queues, "mail")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen), "the jobs screen")
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        table = screen.query_one(JobsTable)
        await until(pilot, lambda: cell(table, str(bolded), "kind") == KIND, "the jobs")
        assert cell(table, str(linked), "kind") == LINK
        assert cell(table, str(linked), "args") == '{"q": "[/]"}'
        assert cell(table, str(bolded), "error").startswith("RuntimeError: [/red] [link=")

        # The / filter by a kind that is markup: the title says it literally.
        await pilot.press("slash")
        await until(pilot, lambda: screen.query_one(KindFilter).has_focus, "the kind prompt")
        screen.query_one(KindFilter).value = f"kind:{LINK}"  # the search's kind term
        await pilot.press("enter")
        await until(pilot, lambda: shown_ids(table) == {linked}, "only the link kind")
        assert title_of(screen.query_one("#jobs-panel")) == f"Jobs in mail · kind:{LINK}"
        await pilot.press("m")  # "All 1 ... jobs are shown", with the kind in it
        notes = [m.notification.message for m in seen if isinstance(m, Notify)]
        assert any(LINK in n and n.startswith("All 1") for n in notes), notes
        screen.set_filter(screen.where.__class__(queue="mail"))
        await until(pilot, lambda: shown_ids(table) == {linked, bolded}, "every kind again")

        await select_row(pilot, table, str(bolded))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobScreen), "the job view")
        view = app.screen
        assert isinstance(view, JobScreen)
        text = rendered(view.query_one(JobDetail).content)
        assert KIND in text and f"RuntimeError: [/red] {LINK}" in text and "[bold]frame[/]" in text
        assert title_of(view.query_one("#job-panel")) == f"Job {bolded} · {KIND} · mail"
        # Still refreshing: a change in the database shows up.
        await conn.execute("UPDATE pqw_job SET priority = 7 WHERE id = $1", bolded)
        view.poller.now()
        await until(pilot, lambda: view.job.priority == 7, "a fresh read")
        await until(
            pilot, lambda: "priority 7" in rendered(view.query_one(JobDetail).content), "repaint"
        )
        await pilot.press("escape")

        app.open_jobs("odd")
        await until(pilot, lambda: cell(table, _only(table), "kind") == "evil\\x1b[2J", "kind")
        assert app.internal_errors == []


async def test_markup_in_a_schedule_id_is_literal_in_its_prompt(dsn: str, conn: Any) -> None:
    # An unbalanced closing tag: as markup, it ended the app with a MarkupError.
    schedule_id = "bad[/]"
    await add_periodic(conn, schedule_id)
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        schedules = app.dashboard.query_one(SchedulesTable)
        await until(pilot, lambda: cell(schedules, schedule_id, "id") == schedule_id, "the id")
        await select_row(pilot, schedules, schedule_id)
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, PromptModal), "the schedule prompt")
        assert title_of(app.screen.query_one("#prompt-dialog")) == f"Schedule of {schedule_id}"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, PromptModal), "the prompt closed")
        assert app.internal_errors == []


async def test_a_kind_of_128_characters_is_cut_and_leaves_every_other_column_on_screen(
    dsn: str, conn: Any
) -> None:
    long_kind = "x" * 126 + "🎉"  # 128 characters, the most a kind may have
    failed = [{"attempt": 1, "error": "KeyError: 'k'"}]
    job = await add_job_in_state(conn, "retryable", kind=long_kind, attempt=1, errors=failed)
    await add_job_in_state(conn, "available")
    app = dashboard_app(dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_jobs("mail")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen), "the jobs screen")
        table = app.screen.query_one(JobsTable)
        await until(pilot, lambda: cell(table, str(job), "kind") == long_kind, "the long kind")
        assert {"id", "kind", "state", "when", "args"} <= set(table.visible_columns)
        assert fits(table)  # all of them on screen, not pushed off its right edge
        shown = table.get_cell(str(job), "kind")
        assert shown.plain.startswith("xxx") and shown.plain.endswith("…")
        assert shown.cell_len <= COLUMN_MAX
        # A change to the row (its state) keeps the kind cut.
        await conn.execute("UPDATE pqw_job SET state = 'available' WHERE id = $1", job)
        app.screen.poller.now()
        await until(pilot, lambda: "available" in cell(table, str(job), "state"), "the change")
        assert table.get_cell(str(job), "kind").plain.endswith("…")

        # Failures by cause: the last error, which is what that view is for, stays.
        await conn.execute("UPDATE pqw_job SET state = 'retryable' WHERE id = $1", job)
        await pilot.press("f")
        await until(pilot, lambda: bool(app.screen.query(CausesTable)), "the causes")
        causes = app.screen.query_one(CausesTable)
        await until(pilot, lambda: causes.row_count == 1, "one cause")
        assert "error" in causes.visible_columns and fits(causes)
        assert app.internal_errors == []


def fits(table: Any) -> bool:
    return sum(c.get_render_width(table) for c in table.columns.values()) < table.size.width


def shown_ids(table: JobsTable) -> set[int]:
    return {int(row.key.value or 0) for row in table.ordered_rows}


def _only(table: JobsTable) -> str:
    rows = list(table.ordered_rows)
    return str(rows[0].key.value) if len(rows) == 1 else ""


async def test_a_job_with_900_kb_of_args_opens_and_closes_with_a_screenful(
    dsn: str, conn: Any
) -> None:
    args = {"rows": [{"n": n, "text": "x" * 80} for n in range(9_000)], "blob": "y" * 100_000}
    assert 900_000 < len(json.dumps(args)) < 1024 * 1024  # large, but allowed
    big = await add_job_in_state(conn, "available", args=args)
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        app.open_jobs("mail")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen), "the jobs screen")
        table = app.screen.query_one(JobsTable)
        await until(pilot, lambda: cell(table, str(big), "args") != "", "the big job")
        assert len(cell(table, str(big), "args")) <= 200  # the flexible column's most
        await select_row(pilot, table, str(big))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobScreen), "the job view")
        detail = app.screen.query_one(JobDetail)
        await until(pilot, lambda: detail.size.height > 0, "the view drawn")
        # A screenful or a few, not the 50,000 lines of the whole value.
        assert detail.virtual_size.height < 400, detail.virtual_size.height
        assert "cut here" in rendered(detail.content) and "in all" in rendered(detail.content)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen), "back to the list")
        assert app.internal_errors == []


async def test_a_config_too_large_to_edit_is_shown_cut_and_read_only(dsn: str, conn: Any) -> None:
    await add_client(conn, persistent=("feeds",))
    await add_worker(
        conn, "feeds", config={"urls": [f"https://f{n}.example/rss" for n in range(5_000)]}
    )
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await select_row(pilot, workers, "feeds")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ReconfigureScreen), "the dialog")
        dialog = app.screen
        editor = dialog.query_one(TextArea)
        assert editor.read_only and editor.document.line_count < 5_000
        note = str(dialog.query_one("#reconfigure-too-large", Static).content)
        assert "cannot be edited here" in note and "pqw persistent config feeds -" in note
        assert dialog.query_one("#save", Button).disabled
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ReconfigureScreen)  # nothing saved, nothing cut short
        await pilot.press("escape")
        assert app.internal_errors == []


async def test_a_worker_renamed_in_code_is_deleted_from_the_palette_after_asking(
    dsn: str, conn: Any
) -> None:
    await add_worker(conn, "old-name")
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await until(pilot, lambda: cell(workers, "old-name", "status") != "", "the worker")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"delete worker old")

        def listed() -> bool:
            commands = app.screen.query_one(CommandList)
            first = commands.get_option_at_index(0) if commands.option_count else None
            return first is not None and "Delete worker old-name" in str(first.prompt)

        await until(pilot, listed, "the delete command")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        await pilot.press("n")
        assert await conn.fetchval("SELECT count(*) FROM pqw_persistent_worker") == 1
        app.cluster_actions.delete_worker("old-name")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "asked again")
        await pilot.press("y")
        await until(pilot, lambda: cell(workers, "old-name", "status") == "", "the row gone")
        assert await conn.fetchval("SELECT count(*) FROM pqw_persistent_worker") == 0
        assert app.internal_errors == []


async def test_a_bug_that_repeats_is_counted_on_the_status_line_and_told_once(
    dsn: str, conn: Any
) -> None:
    await add_worker(conn, "feed")
    seen: list[Message] = []
    app = dashboard_app(dsn)

    def broken(*_: Any) -> None:
        raise RuntimeError("painting went wrong")

    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await until(pilot, lambda: app.overview is not None, "the first overview")
        app.dashboard.query_one(WorkersTable).show = broken  # type: ignore[method-assign]
        bar = app.dashboard.query_one(StatusBar)
        await until(pilot, lambda: app.bugs.count >= 3, "the bug three times", timeout=15)
        await until(
            pilot,
            lambda: "internal errors" in str(bar.query_one("#status-where", Static).content),
            "the count on the status line",
        )
        toasts = [
            m for m in seen if isinstance(m, Notify) and m.notification.title.startswith("Internal")
        ]
        assert len(toasts) == 1 and "painting went wrong" in toasts[0].notification.message
        assert app.is_running
        assert not any(isinstance(w, Input) for w in app.screen.query(Input) if w.has_focus)
