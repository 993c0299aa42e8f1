"""Tables follow the data by row key: the cursor stays on the row the operator chose."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult

from tests.tui.driving import cell, select_row, until
from tui.app import PqwApp
from tui.dev.sample import SampleSource
from tui.dev.sample_cluster import SAMPLE_NOW, sample_overview
from tui.dev.sample_memory import sample_runs
from tui.palette import Palette
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.runs_table import RunsTable
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


class RunsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RunsTable()


async def test_a_new_run_shows_on_top_of_the_timeline_not_below_the_old_ones() -> None:
    """The bug: a run that arrived was appended, so after a failover the demo's run #2
    showed below #1 in a timeline titled "newest first"."""
    runs = sample_runs(SAMPLE_NOW)["feed-poller"]  # newest first
    assert len(runs) >= 3
    app = RunsApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(RunsTable)
        palette = Palette.from_theme(app.get_css_variables())
        table.show(runs[1:], SAMPLE_NOW, palette)
        table.move_cursor(row=1)
        chosen = table.selected_key
        table.show(runs, SAMPLE_NOW, palette)
        await pilot.pause()
        assert [row.key.value for row in table.ordered_rows] == [str(r.run) for r in runs]
        assert table.selected_key == chosen  # the cursor stayed on its run


class CountsTable(KeyedTable):
    COLUMNS = (("queue", "queue"), ("available", "available"))


class CountsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CountsTable()


def rendered_cells(table: KeyedTable) -> int:
    # Textual's private cache of rendered cells: what filled with entries never read again.
    return len(table._cell_render_cache)


async def test_a_table_refreshed_many_times_keeps_only_what_it_shows_now() -> None:
    """The bug: DataTable keys its rendered cells by an update count that each changed
    cell bumps and keeps the dead ones until 10,000 per table; a dashboard refreshing
    twice a second grew ~18 MB over eight minutes."""
    app = CountsApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(CountsTable)
        queues = ("default", "mail", "bulk")
        sizes: list[int] = []
        for n in range(30):
            table.sync({q: (q, str(n * 1_000 + i)) for i, q in enumerate(queues)})
            # What the previous counts rendered to can never be read again.
            assert rendered_cells(table) == 0
            await until(pilot, lambda: rendered_cells(table) > 0, f"refresh {n} rendered")
            sizes.append(rendered_cells(table))
        assert cell(table, "bulk", "available") == "29002"
        # One refresh's cells (three rows and the header, two columns, a cursor variant
        # or two), not thirty refreshes' worth.
        assert max(sizes) <= (len(queues) + 1) * 2 * 2
