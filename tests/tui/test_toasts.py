"""A toast whose notification expires as it is shown goes at once; Textual 8.2's own
timer, given the negative time left, froze the whole app (tui/toasts.py)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT

# In a process of its own: without the fix the event loop spins for good, and
# nothing in this process could end the test.
LATE_TOAST = """
import asyncio, time
from textual.app import App
from textual.notifications import Notification
from textual.widgets._toast import Toast, ToastHolder
import tui.app  # the dashboard installs the fix as it is imported

class Late(App[None]):
    def compose(self):
        yield ToastHolder(Toast(Notification("late", raised_at=time.time() - 10)))

async def main():
    app = Late()
    async with app.run_test() as pilot:
        deadline = time.monotonic() + 20
        while app.query(Toast) and time.monotonic() < deadline:
            await pilot.pause()
        print("gone" if not app.query(Toast) else "stayed")

asyncio.run(main())
"""


def test_a_toast_that_expired_before_it_was_shown_goes_and_the_app_goes_on() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LATE_TOAST], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, "gone"), done.stderr
