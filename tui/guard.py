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
