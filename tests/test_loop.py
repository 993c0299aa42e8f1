"""`--loop`: pqw worker and pqw bench run on uvloop when the pqw[uvloop] extra is installed."""

from __future__ import annotations

import asyncio

import pytest

from engine.cli import loop
from engine.cli.loop import LoopUnavailable


async def running_loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_is_asyncio_and_auto_takes_uvloop_when_installed() -> None:
    assert loop.run(running_loop_module(), "asyncio").startswith("asyncio")
    expected = "uvloop" if loop.uvloop_installed() else "asyncio"
    assert loop.loop_name("auto") == expected
    assert loop.run(running_loop_module(), "auto").startswith(expected)


def test_asking_for_uvloop_without_it_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "uvloop_installed", lambda: False)
    assert loop.loop_name("auto") == "asyncio"
    with pytest.raises(LoopUnavailable, match=r"pip install 'pqw\[uvloop\]'"):
        loop.loop_name("uvloop")
