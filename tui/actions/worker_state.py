"""Reset a persistent worker's state (its last checkpoint), after asking."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.admin import LIVE_RUN_STATUSES
from tui.data.feed import ActionFailed
from tui.screens.confirm import ConfirmationModal

if TYPE_CHECKING:
    from tui.app import PqwApp


def reset_question(name: str, running: bool) -> str:
    question = (
        f"Forget the state of {name}? Its next run starts with none (ctx.state is None): "
        "offsets and cursors it kept are lost. This cannot be undone."
    )
    if running:
        question += (
            "\n\nA run is under way and would checkpoint its state again: the reset is "
            "refused until the worker is stopped and its run has ended."
        )
    return question


def reset_worker_state(app: PqwApp, name: str, done: Callable[[], None] | None = None) -> None:
    """Ask, then reset; the outcome is a notification (and `done()` after a reset)."""
    if app.refuse_if_read_only(f"Reset the state of {name}"):
        return
    worker = app.cluster_actions.find_worker(name)
    running = worker is not None and worker.status in LIVE_RUN_STATUSES

    async def reset() -> None:
        try:
            state = await app.feed.act(lambda admin: admin.reset_worker_state(name))
        except ActionFailed as exc:
            app.notify(str(exc), title=f"Reset {name} failed", severity="error", markup=False)
            return
        app.notify(
            f"State of {name} reset (version {state.version}): its next run starts with none",
            title="State reset",
            markup=False,
        )
        if done is not None:
            done()

    def answered(yes: bool | None) -> None:
        if yes:
            app.run_worker(reset(), name=f"reset {name}", group="actions", exit_on_error=False)

    app.push_screen(
        ConfirmationModal("Reset worker state", reset_question(name, running), "Reset"),
        answered,
    )
