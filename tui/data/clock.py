"""The dashboard's sense of "now": database time, carried forward between refreshes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta


class DisplayClock:
    """Database time as of the last overview, advanced by local elapsed time while live.

    Ages ("2 seconds ago") and client-side staleness are measured against the
    database's clock, so a skewed local clock cannot make a healthy worker look
    stale. When the feed is paused or the database is away the clock stops: the
    screen then shows one consistent snapshot rather than ages that keep growing
    about data nobody is re-reading. `frozen` pins it for screenshots and tests.
    """

    def __init__(
        self,
        frozen: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._frozen = frozen
        self._monotonic = monotonic
        self._anchor: datetime | None = None
        self._anchored_at = 0.0
        self._stopped_at: float | None = None

    def anchor(self, db_now: datetime, fetched_at: float) -> None:
        """A fresh overview: its database time was `db_now` at local `fetched_at`."""
        self._anchor = db_now
        self._anchored_at = fetched_at
        if self._stopped_at is not None:
            self._stopped_at = max(self._stopped_at, fetched_at)

    def stop(self) -> None:
        if self._stopped_at is None:
            self._stopped_at = self._monotonic()

    def run(self) -> None:
        self._stopped_at = None

    def now(self) -> datetime | None:
        if self._frozen is not None:
            return self._frozen
        if self._anchor is None:
            return None
        until = self._stopped_at if self._stopped_at is not None else self._monotonic()
        return self._anchor + timedelta(seconds=max(0.0, until - self._anchored_at))
