"""One operator action: shown pending at once, run off the UI thread, confirmed by a later read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tui.data.feed import ActionFailed
from tui.data.pending import PendingChange, PendingChanges
from tui.data.source import AdminCall

if TYPE_CHECKING:
    from tui.app import PqwApp


def run_operator_action(
    app: PqwApp,
    what: str,
    action: AdminCall[object],
    changes: PendingChanges[Any],
    key: str,
    aspect: str,
    change: PendingChange[Any],
) -> None:
    """Show `change` at once, run `action` off the UI, then wait for a refresh to confirm.

    A refusal (the engine's one-line reason) is a notification; the row goes
    back to what the database says.
    """
    if app.refuse_if_read_only(what):
        return
    changes.begin(key, aspect, change)
    app.repaint()

    async def run() -> None:
        try:
            await app.feed.act(action)
        except ActionFailed as exc:
            changes.drop(key, aspect)
            app.notify(str(exc), title=f"{what} failed", severity="error", markup=False)
            app.repaint()
            return
        changes.settle(key, aspect, app.monotonic())
        app.refresh_now()

    app.run_worker(run(), name=what, group="actions", exit_on_error=False)
