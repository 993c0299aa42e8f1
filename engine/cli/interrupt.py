"""SIGTERM and SIGHUP end a command as Ctrl-C does: its coroutine is cancelled, so its
own cleanup runs. Python's default ends the process on the spot: `pqw bench` left its
scratch database (a million rows for the bloat figure) and the embedded server it
started running, and a closed terminal did the same to any long command."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from typing import Any


def ending_signals() -> tuple[signal.Signals, ...]:
    """SIGTERM; SIGHUP too, unless it is ignored (started under nohup)."""
    hang_up = getattr(signal, "SIGHUP", None)
    if hang_up is not None and signal.getsignal(hang_up) is not signal.SIG_IGN:
        return (signal.SIGTERM, hang_up)
    return (signal.SIGTERM,)


async def cancelled_by_signals(command: Coroutine[Any, Any, int]) -> int:
    """Run `command`; on SIGTERM or SIGHUP cancel it and exit 128 + the signal's number.

    A second signal, while the cleanup runs, ends the process at once (the default
    again). `pqw worker` and `pqw demo` take these signals themselves to stop
    gracefully (engine/cli/worker.py): their handlers replace these while they run.
    Off the main thread (main() called from a thread) signals are not ours to take.
    """
    if threading.current_thread() is not threading.main_thread():
        return await command
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[signal.Signals] = []
    signals = ending_signals()

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        for each in signals:
            loop.remove_signal_handler(each)
        task.cancel()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await command
    except asyncio.CancelledError:
        if not received:
            raise
        return 128 + received[0]
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
