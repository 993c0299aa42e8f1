"""The poller schedules nothing once its screen or app is closing."""

from __future__ import annotations

import asyncio
import gc
import warnings

from textual.app import App
from textual.screen import Screen

from tests.tui.driving import until
from tui.data.poller import Poller


class Reads:
    """A read that waits until released, counting how often it began."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def read(self) -> float | None:
        self.started += 1
        await self.release.wait()
        return None


class PolledScreen(Screen[None]):
    def __init__(self, reads: Reads) -> None:
        super().__init__()
        self.poller = Poller(self, reads.read, lambda: 0.01, "jobs")


def pending(name: str) -> list[asyncio.Task[object]]:
    """The poller's timer tasks (named after it) not yet done: they would be destroyed
    pending at exit."""
    return [t for t in asyncio.all_tasks() if t.get_name() == name and not t.done()]


async def test_a_poller_schedules_nothing_once_its_screen_or_app_is_closing() -> None:
    screen_reads, app_reads = Reads(), Reads()
    app = App[None]()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with app.run_test() as pilot:
            screen = PolledScreen(screen_reads)
            app.push_screen(screen)
            await pilot.pause()
            screen.poller.now()
            await until(pilot, lambda: screen_reads.started == 1, "the screen's read")
            # The screen goes while its read is under way; the read ends afterwards
            # and would arm the next one on the closed screen.
            app.pop_screen()
            await until(pilot, lambda: not screen.is_running, "the screen closed")
            screen_reads.release.set()
            await pilot.pause()
            screen.poller.now()
            assert pending("jobs") == []
            # A timer that fired as the screen closed: no read may start.
            screen.poller._start()
            assert screen_reads.started == 1

            poller = Poller(app, app_reads.read, lambda: 0.01, "poll")
            app.exit()
            poller.now()
            assert pending("poll") == []
            poller._start()  # a timer that fired during shutdown
        gc.collect()
    assert app_reads.started == 0
    never_awaited = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert never_awaited == []
