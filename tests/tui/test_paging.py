"""The jobs list pages down with m or the cursor, and keeps its rows as new jobs arrive."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine.admin import Job, JobState
from tests.tui.driving import until
from tui.app import PqwApp
from tui.data.feed import ActionFailed
from tui.data.jobs_window import PAGE, JobFilter, JobsPage, read_window, window_floor
from tui.dev.sample import SampleSource
from tui.dev.sample_cluster import SAMPLE_NOW
from tui.screens.jobs import JobsScreen
from tui.widgets.jobs_table import JobsTable


def job(job_id: int, queue: str = "mail") -> Job:
    at = SAMPLE_NOW - timedelta(seconds=1000 - job_id)
    return Job(job_id, "email.send", {"n": job_id}, queue, 1, JobState.AVAILABLE, 0, 5, at, at)


def ids(app: PqwApp) -> list[int]:
    screen = app.screen
    assert isinstance(screen, JobsScreen)
    return [int(row.key.value or 0) for row in screen.query_one(JobsTable).ordered_rows]


class GrowingSource(SampleSource):
    def add(self, *jobs: Job) -> None:
        for j in jobs:
            self._jobs[j.id] = j


async def test_m_and_the_last_row_read_older_pages_and_new_jobs_join_on_top() -> None:
    source = GrowingSource(jobs=[job(n) for n in range(1, 121)])
    app = PqwApp(source, refresh=0.1, frozen_now=SAMPLE_NOW)
    async with app.run_test(size=(120, 36)) as pilot:
        app.open_jobs("mail")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen), "the jobs screen")
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        await until(pilot, lambda: len(ids(app)) == PAGE, "the first page")
        assert ids(app)[:2] == [120, 119]
        assert screen.page is not None and screen.page.more

        await pilot.press("m")
        await until(pilot, lambda: len(ids(app)) == 2 * PAGE, "a second page")
        await pilot.press("end")  # the cursor on the last row reads the rest
        await until(pilot, lambda: len(ids(app)) == 120, "every job")
        assert screen.page is not None and not screen.page.more
        table = screen.query_one(JobsTable)
        assert table.selected_job == 21  # where the cursor was when the last page came

        source.add(*(job(n) for n in range(121, 126)))
        await until(pilot, lambda: ids(app)[0] == 125, "new jobs on top")
        assert ids(app) == list(range(125, 0, -1))  # nothing read so far left the list
        assert table.selected_job == 21  # the cursor stayed on its job


async def test_scrolling_to_the_bottom_reads_the_next_page() -> None:
    app = PqwApp(GrowingSource(jobs=[job(n) for n in range(1, 121)]), frozen_now=SAMPLE_NOW)
    async with app.run_test(size=(120, 36)) as pilot:
        app.open_jobs("mail")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen), "the jobs screen")
        await until(pilot, lambda: len(ids(app)) == PAGE, "the first page")
        table = app.screen.query_one(JobsTable)
        table.scroll_end(animate=False)  # as the mouse wheel would; the cursor stays
        await until(pilot, lambda: len(ids(app)) == 2 * PAGE, "the next page")
        assert table.selected_job == 120


async def test_a_failed_read_is_one_notification_and_keeps_the_rows() -> None:
    class FlakySource(SampleSource):
        fail = False

        async def search_jobs(self, *args: Any, **kw: Any) -> list[Job]:
            if self.fail:
                raise RuntimeError("relation pqw_job is locked")
            return await super().search_jobs(*args, **kw)

    source = FlakySource()
    app = PqwApp(source, refresh=0.1, frozen_now=SAMPLE_NOW)
    async with app.run_test(size=(120, 36)) as pilot:
        app.open_jobs("mail")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen), "the jobs screen")
        await until(pilot, lambda: len(ids(app)) == 10, "the mail jobs")
        source.fail = True
        panel = app.screen.query_one("#jobs-panel")
        await until(pilot, lambda: "not refreshed" in str(panel.border_subtitle), "the warning")
        assert "RuntimeError: relation pqw_job is locked" in str(panel.border_subtitle)
        assert len(ids(app)) == 10 and app.is_running and app.internal_errors == []
        source.fail = False
        await until(pilot, lambda: "not refreshed" not in str(panel.border_subtitle), "recovered")


# ----------------------------------------------------------------------
# The window, without a screen
# ----------------------------------------------------------------------


def reader(jobs: list[Job]) -> Any:
    reads: list[tuple[int | None, int]] = []

    async def read(where: JobFilter, before: int | None, limit: int) -> list[Job]:
        reads.append((before, limit))
        return [j for j in jobs if before is None or j.id < before][:limit]

    return read, reads


async def test_the_window_is_the_newest_page_without_a_floor() -> None:
    read, reads = reader([job(n) for n in range(300, 0, -1)])
    page = await read_window(read, JobFilter("mail"), None)
    assert [j.id for j in page.jobs] == list(range(300, 250, -1)) and page.more
    assert reads == [(None, PAGE + 1)]


async def test_the_window_reaches_down_to_its_floor_and_no_further() -> None:
    read, _ = reader([job(n) for n in range(300, 0, -1)])
    page = await read_window(read, JobFilter("mail"), floor=180)
    assert page.jobs[-1].id == 180 and len(page.jobs) == 121 and page.more
    more = await read_window(read, JobFilter("mail"), floor=180, below=PAGE)
    assert more.jobs[-1].id == 130
    few, _ = reader([job(n) for n in range(10, 0, -1)])
    assert await read_window(few, JobFilter("mail"), floor=5) == JobsPage(
        [job(n) for n in range(10, 0, -1)], False
    )
    empty, _ = reader([])
    assert await read_window(empty, JobFilter("mail"), floor=5) == JobsPage([], False)


def test_the_floor_is_the_lower_of_page_and_cursor() -> None:
    assert window_floor(None, None) is None
    assert window_floor(40, None) == 40
    assert window_floor(40, 12) == 12
    assert window_floor(None, 77) == 77


def test_action_failed_is_what_a_read_raises() -> None:
    # The screens catch ActionFailed from Feed.read; Missing (a gone job) is one of them.
    from tui.data.feed import Missing

    assert issubclass(Missing, ActionFailed)
