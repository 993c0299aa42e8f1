"""Reading on a timer, one read at a time: the next armed when the last one ends.

Dolphie's shape: no fixed interval that could pile reads up behind a slow
database. The app's overview poll and each screen's own reads (a page of jobs,
one job) all go through a Poller. A screen's poller reads only while its screen
is on top; under a modal or another screen it rests, and reads again as soon as
the screen is back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from textual.dom import DOMNode
from textual.screen import Screen
from textual.timer import Timer

log = logging.getLogger("pqw.tui")

# Textual's timers divide by their interval: "at once" is the smallest step.
MIN_DELAY = 0.001


class Poller:
    """Runs `read` in a worker of `owner` (the app or a screen), then again after a delay.

    `read` returns the delay before the next read (a backoff), or None for the
    usual one, `interval()`; `interval()` is None while reading is paused.
    """

    def __init__(
        self,
        owner: DOMNode,
        read: Callable[[], Awaitable[float | None]],
        interval: Callable[[], float | None],
        name: str,
    ) -> None:
        self._owner = owner
        self._read = read
        self._interval = interval
        self._name = name
        self._timer: Timer | None = None
        self._reading = False
        # Asked for while a read ran (a new filter, an action): that read's
        # answer is already stale, so another follows at once.
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

    def next_in(self, seconds: float) -> None:
        """The next read in `seconds` (the rate changed); a running read arms its own next one."""
        if not self._reading:
            self._arm(seconds)

    def _closing(self) -> bool:
        """Whether the owner (a screen, or the app) is closing or closed: a timer set now
        would never be stopped (a task destroyed pending at exit), a worker started now
        would be cancelled before it ran its read (a coroutine never awaited)."""
        owner = self._owner
        app = owner.app if owner.is_attached else None
        # Textual has no public "closing" flag; these are its message pump's own.
        return app is None or app._exit or owner._closing or owner._closed

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._closing():
            return
        self._timer = self._owner.set_timer(max(delay, MIN_DELAY), self._start, name=self._name)

    def _rests(self) -> bool:
        owner = self._owner
        return isinstance(owner, Screen) and not owner.is_current

    def _start(self) -> None:
        if self._reading or self._rests() or self._closing():
            return  # the running read arms the next; a resting screen reads on resume
        if self._interval() is None and not self._asked:
            return  # paused since this read was armed: the data holds still
        self._asked = False
        self._reading = True
        self._again = False
        # The method, not a coroutine made now: a worker cancelled before it starts
        # then leaves nothing behind.
        # (mypy reads Textual's WorkType union of a coroutine function and a plain one
        # as a conflict, and infers Never.)
        self._owner.run_worker(
            self._run,  # type: ignore[arg-type]
            name=self._name,
            group=self._name,
            exit_on_error=False,
        )

    async def _run(self) -> None:
        delay: float | None = None
        try:
            delay = await self._read()
        except Exception as exc:
            # Reads catch the database's failures; what gets here is a bug: told, not fatal.
            log.exception("%s failed", self._name)
            report = getattr(self._owner.app, "report_internal_error", None)
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
