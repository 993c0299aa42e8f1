"""Render the dashboard over the sample cluster to screenshots/*.svg.

    uv run python -m tui.dev.screenshots

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
from tui.dev.sample import SampleSource
from tui.dev.sample_cluster import SAMPLE_NOW
from tui.screens.confirm import ConfirmationModal
from tui.screens.help import HelpScreen
from tui.screens.job import JobScreen
from tui.screens.jobs import JobsScreen
from tui.screens.reconfigure import ReconfigureScreen
from tui.screens.worker import WorkerScreen

SIZE = (120, 36)
# The repository's screenshots/ folder, two rooms up from tui/dev/.
OUT = Path(__file__).resolve().parents[2] / "screenshots"

Scene = Callable[[Pilot[int]], Awaitable[None]]


def sample_app() -> PqwApp:
    """The dashboard over the fixed sample cluster, its clock frozen at the sample's now."""
    app = PqwApp(SampleSource(), frozen_now=SAMPLE_NOW)
    # A still picture: no blinking cursor, whatever TEXTUAL_ANIMATIONS says.
    app.animation_level = "none"
    return app


async def settle(
    pilot: Pilot[int], ready: Callable[[], bool], what: str, timeout: float = 30.0
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


async def schedules_open(pilot: Pilot[int]) -> None:
    """On a short screen, tab from the workers to the schedules: they unfold."""
    await main_screen(pilot)
    await pilot.press("tab")


def app_of(pilot: Pilot[int]) -> PqwApp:
    app = pilot.app
    assert isinstance(app, PqwApp)
    return app


def _jobs_read(app: PqwApp) -> bool:
    screen = app.screen
    return isinstance(screen, JobsScreen) and screen.page is not None


async def jobs_screen(pilot: Pilot[int]) -> None:
    """Enter on the mail queue: its jobs, newest first."""
    await main_screen(pilot)
    await pilot.press("shift+tab", "down", "enter")  # workers → queues; default → mail
    await settle(pilot, lambda: _jobs_read(app_of(pilot)), "the mail queue's jobs")


async def job_screen(pilot: Pilot[int]) -> None:
    """Enter on a retryable job: its args, metadata, times and errors."""
    await jobs_screen(pilot)
    await pilot.press("4")  # only retryable jobs
    await settle(pilot, lambda: _jobs_read(app_of(pilot)), "the retryable jobs")
    await pilot.press("enter")  # the first of them
    await settle(pilot, lambda: isinstance(pilot.app.screen, JobScreen), "the job's view")


async def confirm_delete(pilot: Pilot[int]) -> None:
    await jobs_screen(pilot)
    await pilot.press("7")  # only discarded jobs
    await settle(pilot, lambda: _jobs_read(app_of(pilot)), "the discarded jobs")
    await pilot.press("d")  # delete the first
    await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmationModal), "the question")


def _worker_read(app: PqwApp) -> bool:
    screen = app.screen
    return isinstance(screen, WorkerScreen) and screen.view.detail is not None


async def worker_screen(pilot: Pilot[int]) -> None:
    """Enter on feed-poller: its liveness, runs, state, config versions and log."""
    await main_screen(pilot)
    await pilot.press("enter")  # the cursor starts on the first worker
    await settle(pilot, lambda: _worker_read(app_of(pilot)), "feed-poller's story")


async def worker_log_search(pilot: Pilot[int]) -> None:
    """In the worker view, `/` and a word: only the lines that hold it, marked."""
    await worker_screen(pilot)
    await pilot.press("slash", *"polled", "enter")
    await settle(pilot, lambda: app_of(pilot).screen.query_one("#log").has_focus, "the search")


async def failures_screen(pilot: Pilot[int]) -> None:
    """`f` in the jobs list: the failures of every queue, their causes above them."""
    await jobs_screen(pilot)
    await pilot.press("f")
    await settle(
        pilot,
        lambda: (
            _jobs_read(app_of(pilot)) and getattr(app_of(pilot).screen, "causes", None) is not None
        ),
        "the failures and their causes",
    )


SCENES: dict[str, Scene] = {
    "main": main_screen,
    "reconfigure": reconfigure_modal,
    "help": help_screen,
    "jobs": jobs_screen,
    "failures": failures_screen,
    "job": job_screen,
    "worker": worker_screen,
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
