"""Bugs and odd data do not end the dashboard: it says so and keeps its last picture."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.message import Message
from textual.notifications import Notify

from engine.admin import Overview
from tests.tui.driving import until
from tui.app import PqwApp
from tui.data.feed import Reconnecting
from tui.dev.sample import SampleSource
from tui.dev.sample_cluster import sample_overview
from tui.widgets.banner import Banner


class BrokenSource(SampleSource):
    """Answers once, then every read fails the way a bug (not an outage) would."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def overview(self) -> Overview:
        self.reads += 1
        if self.reads > 1:
            raise RuntimeError("column does not exist")
        return await super().overview()


async def test_a_failing_read_shows_refresh_failed_and_keeps_the_data() -> None:
    app = PqwApp(BrokenSource(), refresh=0.1)
    async with app.run_test(size=(120, 36)) as pilot:
        banner = app.dashboard.query_one(Banner)
        await until(pilot, lambda: banner.display, "the banner")
        state = app.feed.state
        assert isinstance(state, Reconnecting) and not state.connection_lost
        assert "Refresh failed: RuntimeError: column does not exist" in str(banner.content)
        assert app.overview is not None and app.is_running


async def test_a_bug_while_painting_is_reported_not_fatal() -> None:
    overview = sample_overview()
    # A heartbeat that is not a time: painting the workers table raises.
    bad = replace(overview.workers[0], last_heartbeat="yesterday")
    source = SampleSource(replace(overview, workers=[bad]))
    seen: list[Message] = []
    app: Any = PqwApp(source, refresh=0.1)
    async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
        await until(pilot, lambda: app.internal_errors, "the error to be caught")
        await until(
            pilot,
            lambda: any(
                isinstance(m, Notify) and m.notification.title.startswith("Internal error")
                for m in seen
            ),
            "a notification",
        )
        assert app.is_running
