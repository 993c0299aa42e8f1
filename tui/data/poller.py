"""A screen's own refresh: one read at a time, the next armed when the last one ends.

The same discipline as the dashboard's overview poll (Dolphie's shape): no
fixed interval that could pile reads up behind a slow database. A screen
polls only while it is on top; under a modal or another screen it rests, and
reads again as soon as it is back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from textual.screen import Screen
from textual.timer import Timer

log = logging.getLogger("pqw.tui")

# Textual's timers divide by their interval: "at once" is the smallest step.
MIN_DELAY = 0.001


class ScreenPoller:
    """Runs `read` in a worker of `screen`; `interval()` is the next delay, None when paused."""

    def __init__(
        self,
        screen: Screen[Any],
        read: Callable[[], Awaitable[float | None]],
        interval: Callable[[], float | None],
        name: str,
    ) -> None:
        self._screen = screen
        self._read = read
        self._interval = interval
        self._name = name
        self._timer: Timer | None = None
        self._reading = False
        # Asked for while a read ran (a new filter): that read's answer is
        # already stale, so another follows at once.
        self._again = False
        # The next read was asked for by the operator: it happens even if paused.
        self._asked = False

    def now(self) -> None:
        """Read at once, paused or not: the operator asked for something new."""
        self._asked = True
        if self._reading:
            self._again = True
        else:
            self._arm(0)

    def resume(self) -> None:
        """The screen is back on top, or refresh was resumed: read now unless paused."""
        if self._interval() is not None:
            self.now()

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self._screen.set_timer(max(delay, MIN_DELAY), self._start, name=self._name)

    def _start(self) -> None:
        if self._reading or not self._screen.is_current:
            return  # on_screen_resume reads again when the screen is back
        if self._interval() is None and not self._asked:
            return  # paused since this read was armed: the data holds still
        self._asked = False
        self._reading = True
        self._again = False
        self._screen.run_worker(self._run(), name=self._name, group=self._name, exit_on_error=False)

    async def _run(self) -> None:
        delay: float | None = None
        try:
            delay = await self._read()
        except Exception as exc:
            # Reads catch the database's failures; what gets here is a bug: told, not fatal.
            log.exception("%s failed", self._name)
            report = getattr(self._screen.app, "report_internal_error", None)
            if report is not None:
                report(exc)
        finally:
            self._reading = False
        if self._again:
            self._again = False
            self._arm(0)
            return
        interval = self._interval()
        if interval is not None:
            self._arm(delay if delay is not None else interval)
