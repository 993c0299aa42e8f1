"""A closed terminal (SIGHUP) or a plain `kill` (SIGTERM) quits the dashboard as `q` does.

Python's default for both is to end the process at once: no `finally`, no exit
hooks, so the demo's workers were left to notice on their own and the embedded
server the dashboard started kept running. Through the event loop the signal
becomes the app's own exit: the terminal is restored (when there still is one),
the connections close, the demo stops and the server with it.

Before the app mounts, start-up (the embedded server, a migration, the demo: seconds
on a first run) is interrupted instead (`interrupt_start_up`): its plain code by an
exception from the signal handler, as Ctrl-C does, and its event loops by
cancelling their task (`run_interruptibly`). A signal that arrives between start-up
and mount is kept and acted on at mount.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

from textual.app import App

T = TypeVar("T")

QUIT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGHUP", "SIGTERM") if hasattr(signal, name)
)


# Signals that came after start-up and before the app could take them (see keep_signals).
_kept: list[int] = []


class StartUpInterrupted(KeyboardInterrupt):
    """A quit signal during start-up; main exits with 128 + `number`. A KeyboardInterrupt,
    as Ctrl-C's is: no `except Exception` on the way takes it for a failure."""

    def __init__(self, number: int) -> None:
        super().__init__(f"interrupted by signal {number}")
        self.number = number


def _interrupt(number: int, frame: FrameType | None) -> None:
    raise StartUpInterrupted(number)


def run_interruptibly(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main) during start-up: a quit signal cancels it, then raises
    StartUpInterrupted. Raised from the handler inside the loop, the exception could
    land in a transport's callback and leave the loop spinning in its cleanup for
    good (1 start-up in 40 hung so)."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(main)
    received: list[int] = []
    before = {sig: signal.getsignal(sig) for sig in QUIT_SIGNALS}

    async def cancelled_by_signals() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal(number: int) -> None:
            received.append(number)
            task.cancel()

        for sig in QUIT_SIGNALS:
            loop.add_signal_handler(sig, on_signal, int(sig))
        return await main

    try:
        return asyncio.run(cancelled_by_signals())
    except asyncio.CancelledError:
        if received:
            raise StartUpInterrupted(received[0]) from None
        raise
    finally:
        for sig, handler in before.items():  # the loop's close left the default
            signal.signal(sig, handler)


def _keep(number: int, frame: FrameType | None) -> None:
    _kept.append(number)


def interrupt_start_up() -> None:
    """From now on each of QUIT_SIGNALS raises StartUpInterrupted."""
    _handle_with(_interrupt)


def keep_signals() -> None:
    """From now on each of QUIT_SIGNALS is kept for the app to act on at mount: raised
    inside Textual's start, it could leave the terminal in raw mode."""
    _handle_with(_keep)


def _handle_with(handler: Callable[[int, FrameType | None], None]) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # main() called from a thread: the signals are not ours to take
    for sig in QUIT_SIGNALS:
        signal.signal(sig, handler)


def exit_on_signals(app: App[Any]) -> None:
    """From now on each of QUIT_SIGNALS exits `app` with 128 + the signal's number;
    one kept since start-up exits it now."""
    loop = asyncio.get_running_loop()

    def quit_with(number: int) -> None:
        app.exit(return_code=128 + number)

    for sig in QUIT_SIGNALS:
        try:
            loop.add_signal_handler(sig, quit_with, int(sig))
        except (NotImplementedError, RuntimeError):
            return  # no signal handlers on this loop (Windows, or not the main thread)
    if _kept:
        quit_with(_kept[0])
