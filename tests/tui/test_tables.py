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
        changed = replace(overview.workers[3], restarts=7)
        new = replace(overview.workers[0], name="aaa-new")
        source.set_overview(replace(overview, workers=[new, changed, *overview.workers[4:]]))

        await until(pilot, lambda: cell(workers, "stream-consumer", "restarts") == "7", "update")
        assert cell(workers, "feed-poller", "name") == ""  # gone
        assert workers.selected_key == "stream-consumer"
        assert workers.cursor_row != index  # it moved with its row
