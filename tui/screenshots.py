"""Render the dashboard over the sample cluster to screenshots/*.svg.

    uv run python -m tui.screenshots

The snapshot tests drive the same scenes, so the pictures in the README and
the ones the tests compare never drift apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from tui.app import PqwApp
from tui.sample import SAMPLE_NOW, SampleSource
from tui.screens.help import HelpScreen
from tui.screens.reconfigure import ReconfigureScreen

SIZE = (120, 36)
OUT = Path(__file__).resolve().parent.parent / "screenshots"

Scene = Callable[[Pilot[int]], Awaitable[None]]


def sample_app() -> PqwApp:
    """The dashboard over the fixed sample cluster, its clock frozen at the sample's now."""
    app = PqwApp(SampleSource(), frozen_now=SAMPLE_NOW)
    # A still picture: no blinking cursor, whatever TEXTUAL_ANIMATIONS says.
    app.animation_level = "none"
    return app


async def settle(
    pilot: Pilot[int], ready: Callable[[], bool], what: str, timeout: float = 10.0
) -> None:
    """Let the app run until `ready()`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.01)
    await pilot.pause()


async def main_screen(pilot: Pilot[int]) -> None:
    app = pilot.app
    assert isinstance(app, PqwApp)
    await settle(pilot, lambda: app.overview is not None, "the first overview")


async def reconfigure_modal(pilot: Pilot[int]) -> None:
    await main_screen(pilot)
    await pilot.press("c")
    await settle(pilot, lambda: isinstance(pilot.app.screen, ReconfigureScreen), "the modal")


async def help_screen(pilot: Pilot[int]) -> None:
    await main_screen(pilot)
    await pilot.press("question_mark")
    await settle(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help screen")


SCENES: dict[str, Scene] = {
    "main": main_screen,
    "reconfigure": reconfigure_modal,
    "help": help_screen,
}


async def render(scene: str) -> str:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        await SCENES[scene](pilot)
        return app.export_screenshot(title=f"pqw-tui: {scene}")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name in SCENES:
        path = OUT / f"{name}.svg"
        path.write_text(asyncio.run(render(name)))
        print(f"wrote {path.relative_to(OUT.parent)}")


if __name__ == "__main__":
    main()
