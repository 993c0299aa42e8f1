"""The command palette's dashboard entries: every worker and queue action by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import PqwApp


@dataclass(frozen=True)
class Command:
    title: str
    help: str
    run: Callable[[], object]
    # Listed before anything is typed (the palette's discovery list).
    discover: bool = True


def dashboard_commands(app: PqwApp) -> list[Command]:
    """Refresh controls, then one entry per action on each worker and queue on screen."""
    commands = [
        Command(
            "Resume refresh" if app.rate.paused else "Pause refresh",
            "Stop or restart polling the database (p)",
            app.action_toggle_refresh,
        ),
        Command("Refresh faster", "Poll more often (+)", app.action_refresh_faster, False),
        Command("Refresh slower", "Poll less often (-)", app.action_refresh_slower, False),
        Command("Help: keys", "Every key of the dashboard (?)", app.action_help),
    ]
    overview = app.overview
    if overview is None:
        return commands
    for w in overview.workers:
        verb = "Stop" if app.wants_enabled(w) else "Start"
        commands += [
            Command(
                f"{verb} worker {w.name}",
                f"Persistent worker, now {w.status} (s)",
                partial(app.toggle_worker, w.name),
            ),
            Command(
                f"Restart worker {w.name}",
                "End the current run and start a new one (r)",
                partial(app.restart_worker, w.name),
            ),
            Command(
                f"Reconfigure worker {w.name}",
                f"Edit config v{w.config_version} as JSON (c)",
                partial(app.reconfigure_worker, w.name),
            ),
        ]
    for q in overview.queues:
        commands.append(
            Command(
                f"{'Resume' if q.paused else 'Pause'} queue {q.queue}",
                "Clients stop or restart fetching from it (space)",
                partial(app.toggle_queue, q.queue),
            )
        )
    return commands


class DashboardCommands(Provider):
    def _commands(self) -> list[Command]:
        return dashboard_commands(cast("PqwApp", self.app))

    async def discover(self) -> Hits:
        for c in self._commands():
            if c.discover:
                yield DiscoveryHit(c.title, c.run, help=c.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for c in self._commands():
            score = matcher.match(c.title)
            if score > 0:
                yield Hit(score, matcher.highlight(c.title), c.run, help=c.help)
