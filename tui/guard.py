"""Handlers whose bugs are reported on screen instead of ending the app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from textual.app import App
from textual.dom import DOMNode

log = logging.getLogger("pqw.tui")


def guarded(handler: Callable[..., None]) -> Callable[..., None]:
    """Run a timer, watcher or message handler so that a bug in it is logged, not fatal.

    Textual ends the app on an exception in a handler; a dashboard left open
    for days should rather keep its last picture and say something went wrong.
    """

    @wraps(handler)
    def run(self: DOMNode, *args: Any) -> None:
        try:
            handler(self, *args)
        except Exception as exc:
            log.exception("dashboard handler %s failed", handler.__qualname__)
            # PqwApp.report_internal_error; a plain App (in a unit test) only logs.
            app: Any = self if isinstance(self, App) else self.app
            report = getattr(app, "report_internal_error", None)
            if report is not None:
                report(exc)

    return run


class InternalErrors:
    """The bugs @guarded caught: how many (the status line shows it), the last few
    (for tests), and a toast for each new kind of bug.

    A bug in a timer comes back every second: a toast each time would bury the
    screen, one toast ever (the old way) hid that it keeps happening. So each
    distinct message is told once, and the count keeps going up where it is seen.
    """

    KEPT = 50  # the last bugs kept
    TOLD = 20  # distinct messages told; past that only the count moves

    def __init__(self, notify: Callable[..., object]) -> None:
        self._notify = notify
        self.count = 0
        self.recent: list[Exception] = []
        self._told: set[str] = set()

    def report(self, exc: Exception) -> None:
        self.count += 1
        self.recent.append(exc)
        del self.recent[: -self.KEPT]
        line = f"{type(exc).__name__}: {exc}"[:500]
        if line not in self._told and len(self._told) < self.TOLD:
            self._told.add(line)
            self._notify(
                line,
                title="Internal error (the dashboard keeps running)",
                severity="error",
                markup=False,
            )
