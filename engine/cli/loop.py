"""The event loop a command runs on: uvloop for `pqw worker` and `pqw bench` when the
`pqw[uvloop]` extra is installed, asyncio's own otherwise (and for every other command)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

from engine.errors import PqwError

T = TypeVar("T")

LoopChoice = Literal["auto", "asyncio", "uvloop"]
LOOP_CHOICES: tuple[LoopChoice, ...] = ("auto", "asyncio", "uvloop")


class LoopUnavailable(PqwError):
    """--loop uvloop was asked for and uvloop is not installed."""


def uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def loop_name(choice: LoopChoice) -> str:
    """The loop `choice` runs on here: 'uvloop' or 'asyncio'."""
    if choice == "asyncio":
        return "asyncio"
    if uvloop_installed():
        return "uvloop"
    if choice == "uvloop":
        raise LoopUnavailable("--loop uvloop: uvloop is not installed (pip install 'pqw[uvloop]')")
    return "asyncio"


def run(main: Coroutine[Any, Any, T], choice: LoopChoice = "asyncio") -> T:
    """asyncio.run(main) on the loop `choice` names (see loop_name)."""
    if loop_name(choice) == "uvloop":
        # Imported by name: an optional extra, which a checkout without it type-checks too.
        uvloop = importlib.import_module("uvloop")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)


def add_loop_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loop",
        choices=LOOP_CHOICES,
        default="auto",
        help="event loop: auto (uvloop when pqw[uvloop] is installed), asyncio or uvloop",
    )
