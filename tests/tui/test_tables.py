"""Tables follow the data by row key: the cursor stays on the row the operator chose."""

from __future__ import annotations

from dataclasses import replace

from tests.tui.driving import cell, select_row, until
from tui.app import PqwApp
from tui.dev.sample import SampleSource
from tui.dev.sample_cluster import SAMPLE_NOW, sample_overview
from tui.widgets.workers_table import WorkersTable


async def test_cursor_stays_on_its_row_when_rows_come_and_go() -> None:
    overview = sample_overview()
    source = SampleSource(overview)
    app = PqwApp(source, refresh=0.1, frozen_now=SAMPLE_NOW)
    async with app.run_test(size=(120, 36)) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await select_row(pilot, workers, "stream-consumer")
        index = workers.cursor_row

        # The first two workers go, one new appears, and the selected one changes.
        at = [w.name for w in overview.workers].index("stream-consumer")
        assert at >= 2
        changed = replace(overview.workers[at], restarts=7)
        new = replace(overview.workers[0], name="aaa-new")
        source.set_overview(replace(overview, workers=[new, changed, *overview.workers[at + 1 :]]))

        await until(pilot, lambda: cell(workers, "stream-consumer", "restarts") == "7", "update")
        assert cell(workers, "feed-poller", "name") == ""  # gone
        assert workers.selected_key == "stream-consumer"
        assert workers.cursor_row != index  # it moved with its row


async def test_a_new_row_takes_its_place_in_the_order_not_the_end() -> None:
    """The bug: a row that arrived was appended, so a worker's run #2 showed below #1 in a
    timeline titled "newest first" (seen in the demo after a failover)."""
    overview = sample_overview()
    source = SampleSource(overview)
    app = PqwApp(source, refresh=0.1, frozen_now=SAMPLE_NOW)
    async with app.run_test(size=(120, 36)) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await select_row(pilot, workers, "stream-consumer")

        new = replace(overview.workers[0], name="aaa-new")
        source.set_overview(replace(overview, workers=[new, *overview.workers]))
        wanted = ["aaa-new", *(w.name for w in overview.workers)]

        await until(pilot, lambda: workers.row_count == len(wanted), "the new row")
        assert [key.value for key in workers.rows] == wanted
        assert workers.selected_key == "stream-consumer"  # the cursor stayed on its row
