"""A closed terminal (SIGHUP) or a plain `kill` (SIGTERM) quits the dashboard as `q` does.

Python's default for both is to end the process at once: no `finally`, no exit
hooks, so the demo's workers were left to notice on their own and the embedded
server the dashboard started kept running. Through the event loop the signal
becomes the app's own exit: the terminal is restored (when there still is one),
the connections close, the demo stops and the server with it.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from textual.app import App

QUIT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGHUP", "SIGTERM") if hasattr(signal, name)
)


def exit_on_signals(app: App[Any]) -> None:
    """From now on each of QUIT_SIGNALS exits `app` with 128 + the signal's number."""
    loop = asyncio.get_running_loop()

    def quit_with(number: int) -> None:
        app.exit(return_code=128 + number)

    for sig in QUIT_SIGNALS:
        try:
            loop.add_signal_handler(sig, quit_with, int(sig))
        except (NotImplementedError, RuntimeError):
            return  # no signal handlers on this loop (Windows, or not the main thread)
