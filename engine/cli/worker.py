"""`pqw worker module:attr`: run a client from the user's module until a stop signal (SIGTERM, SIGINT, SIGHUP)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from engine.cli.interrupt import ending_signals
from engine.cli.loop import add_loop_option
from engine.cli.options import add_dsn_option
from engine.client import Client
from engine.errors import PqwError

log = logging.getLogger("pqw.worker")


class WorkerTargetError(PqwError):
    """The module:attr given to `pqw worker` does not name a Client."""


def parse_queues(text: str | None) -> dict[str, int]:
    """'mail=5,default=10' -> {'mail': 5, 'default': 10}."""
    if not text:
        return {}
    queues: dict[str, int] = {}
    for part in text.split(","):
        name, sep, count = part.strip().partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"expected NAME=CONCURRENCY, got {part!r}")
        try:
            queues[name] = int(count)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"concurrency of {name!r} must be an integer") from exc
    return queues


def load_client(target: str) -> Client:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise WorkerTargetError(
            f"expected module:attribute (like myapp.jobs:client), got {target!r}"
        )
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WorkerTargetError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        client = getattr(module, attr)
    except AttributeError as exc:
        raise WorkerTargetError(f"{module_name!r} has no attribute {attr!r}") from exc
    if callable(client) and not isinstance(client, Client):
        # A factory: called with nothing, so one that needs arguments is the wrong target.
        try:
            inspect.signature(client).bind()
        except TypeError as exc:
            raise WorkerTargetError(
                f"{target} needs arguments ({exc}): name a Client, or a function of none "
                f"that returns one"
            ) from exc
        except ValueError:
            pass  # no signature to read (a builtin): call it and see
        client = client()
    if not isinstance(client, Client):
        raise WorkerTargetError(f"{target} is a {type(client).__name__}, not an engine.Client")
    return client


# How often a child that exits with its parent looks whether the parent is still there.
PARENT_CHECK_INTERVAL = 0.5


async def parent_gone(parent: int) -> None:
    """Return once this process's parent is no longer `parent` (it died, however it died:
    an orphan is re-parented, so its parent pid changes)."""
    while os.getppid() == parent:  # noqa: ASYNC110 (no event tells of a parent's death)
        await asyncio.sleep(PARENT_CHECK_INTERVAL)


async def run_until_signalled(
    client: Client,
    alongside: Callable[[], Coroutine[Any, Any, None]] | None = None,
    *,
    exit_with_parent: bool = False,
) -> None:
    """Start; the first stop signal stops gracefully, a second cancels running jobs.

    The stop signals are SIGTERM, SIGINT and SIGHUP (the terminal or ssh session
    it ran in was closed), unless SIGHUP was ignored when it started (nohup).

    `alongside` runs once the client has started, until the stop. With
    `exit_with_parent`, the death of the parent process stops gracefully too: a
    dashboard killed with its terminal leaves no demo workers behind.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    parent = os.getppid()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.info("pqw: stopping (running jobs finish; signal again to cancel them)")
            stop.set()
        else:
            log.info("pqw: cancelling running jobs")
            client.cancel_running()

    stop_signals = graceful_stop_signals()
    for sig in stop_signals:
        loop.add_signal_handler(sig, on_signal)
    watch = None
    if exit_with_parent:

        async def stop_with_parent() -> None:
            await parent_gone(parent)
            log.info("pqw: parent process %d is gone; stopping", parent)
            stop.set()

        watch = asyncio.create_task(stop_with_parent())
    await client.start()
    extra = asyncio.create_task(alongside()) if alongside is not None else None
    try:
        await stop.wait()
    finally:
        for task in (extra, watch):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await client.stop()
        for sig in stop_signals:
            loop.remove_signal_handler(sig)


def graceful_stop_signals() -> tuple[signal.Signals, ...]:
    """SIGINT, SIGTERM, and SIGHUP unless it is ignored (started under nohup): Python's
    default for SIGHUP ends the process at once, with no graceful stop, running jobs
    left for the rescuer and persistent workers for the lease timeout."""
    return (signal.SIGINT, *ending_signals())


# After the client has stopped, how long leftover tasks and threads get to end.
EXIT_GRACE = 5.0


async def cmd_worker(args: argparse.Namespace) -> int:
    client = load_client(args.target)
    client.configure(
        dsn=args.dsn, direct_dsn=args.direct_dsn, pool_mode=args.pool_mode, queues=args.queues
    )
    await run_until_signalled(client)
    if not await ended_everything(EXIT_GRACE):
        # Something ignores cancellation (a handler swallowing CancelledError, a
        # sync handler stuck in its thread): waiting for it would keep this
        # process alive forever. Everything pqw must record is recorded by now.
        log.error("pqw: exiting without waiting for them; their jobs are left to the rescuer")
        logging.shutdown()
        os._exit(1)
    return 0


async def ended_everything(grace: float) -> bool:
    """Cancel the tasks still running (besides this one) and end the thread pool, each
    within `grace`; False, with a line in the log, if something will not end."""
    loop = asyncio.get_running_loop()
    leftovers = asyncio.all_tasks() - {asyncio.current_task()}
    for task in leftovers:
        task.cancel()
    if leftovers:
        await asyncio.wait(leftovers, timeout=grace)
    stubborn = sorted(task.get_name() for task in leftovers if not task.done())
    if stubborn:
        log.error(
            "pqw: %d task(s) ignore cancellation after stop: %s", len(stubborn), ", ".join(stubborn)
        )
        return False
    try:
        # Threads of sync handlers that never returned would block the exit.
        async with asyncio.timeout(grace):
            await loop.shutdown_default_executor()
    except TimeoutError:
        log.error("pqw: a sync handler's thread is still running after stop")
        return False
    return True


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="module:attribute naming your engine.Client")
    parser.add_argument(
        "--queues", type=parse_queues, help="queues and concurrency, like mail=5,default=10"
    )
    add_dsn_option(parser)
    add_loop_option(parser)
    parser.set_defaults(run=cmd_worker)
