"""The command palette's dashboard entries: every worker, queue, schedule and job action by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import Screen

from engine.admin import Job
from tui.data.pending import ENABLED, RUN
from tui.formatting import one_line
from tui.screens.job import JobScreen
from tui.screens.jobs import JobsScreen
from tui.widgets.filter_bar import STATE_KEYS

if TYPE_CHECKING:
    from tui.app import PqwApp


@dataclass(frozen=True)
class Command:
    title: str
    help: str
    run: Callable[[], object]
    # Listed before anything is typed (the palette's discovery list).
    discover: bool = True


def job_commands(app: PqwApp, job: Job) -> list[Command]:
    """The actions on one job: the selected one in the list, or the one in view."""
    return [
        Command(
            f"Cancel job {job.id}",
            f"{job.kind}, now {job.state}; asks first (x)",
            partial(app.job_actions.cancel, job),
        ),
        Command(
            f"Retry job {job.id}",
            f"{job.kind}: run it again now (t)",
            partial(app.job_actions.retry, job),
        ),
        Command(
            f"Delete job {job.id}",
            f"{job.kind}: remove it for good; asks first (d)",
            partial(app.job_actions.delete, job),
        ),
    ]


def jobs_screen_commands(app: PqwApp, screen: JobsScreen) -> list[Command]:
    commands = [
        Command(
            f"Show {state or 'all'} jobs",
            f"Jobs list: {'every state' if state is None else f'only {state}'} ({key})",
            partial(screen.action_state, str(state or "all")),
        )
        for key, state in STATE_KEYS.items()
    ]
    commands += [
        Command("Filter jobs by kind", "Type a job kind (/)", screen.action_filter_kind),
        Command("Load more jobs", "The next page of older jobs (m)", screen.action_more),
    ]
    job = screen.selected_job()
    if job is not None:
        commands += job_commands(app, job)
    return commands


def dashboard_commands(app: PqwApp, screen: Screen[object] | None = None) -> list[Command]:
    """Refresh controls, the jobs screen's own entries when it is open, then one entry
    per action on each worker, queue and schedule."""
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
    if isinstance(screen, JobsScreen):
        commands += jobs_screen_commands(app, screen)
    elif isinstance(screen, JobScreen) and not screen.gone:
        commands += job_commands(app, screen.job)
    overview = app.overview
    if overview is None:
        return commands
    cluster = app.cluster_actions
    for w in overview.workers:
        verb = "Stop" if app.pending.workers.intended(w.name, RUN, w.enabled) else "Start"
        commands += [
            Command(
                f"{verb} worker {w.name}",
                f"Persistent worker, now {w.status} (s)",
                partial(cluster.toggle_worker, w.name),
            ),
            Command(
                f"Restart worker {w.name}",
                "End the current run and start a new one (r)",
                partial(cluster.restart_worker, w.name),
            ),
            Command(
                f"Reconfigure worker {w.name}",
                f"Edit config v{w.config_version} as JSON (c)",
                partial(cluster.reconfigure_worker, w.name),
            ),
        ]
        if not w.runners:  # renamed or deleted in code: nothing defines it any more
            commands.append(
                Command(
                    f"Delete worker {w.name}",
                    "No live client defines it: remove it for good; asks first",
                    partial(cluster.delete_worker, w.name),
                )
            )
    for q in overview.queues:
        commands += [
            Command(
                f"{'Resume' if q.paused else 'Pause'} queue {q.queue}",
                "Clients stop or restart fetching from it (space)",
                partial(cluster.toggle_queue, q.queue),
            ),
            Command(
                f"Jobs of queue {q.queue}",
                "Newest first, by state and kind (enter)",
                partial(app.open_jobs, q.queue),
            ),
        ]
    for p in overview.periodic:
        verb = "Disable" if app.pending.schedules.intended(p.id, ENABLED, p.enabled) else "Enable"
        commands.append(
            Command(
                f"{verb} schedule {p.id}",
                f"Periodic {p.kind}, {p.schedule} (e)",
                partial(cluster.toggle_schedule, p.id),
            )
        )
    return commands


# A title or help line longer than this is cut: a palette row is one line of a screen.
SHOWN_MAX = 120


def plain(text: str) -> Content:
    """Text exactly as written, never read as markup: titles hold worker names, kinds, ids."""
    return Content(one_line(text, SHOWN_MAX))


def highlighted(matcher: Matcher, title: str) -> Content:
    """The title with the letters the query matched lit (Matcher.highlight would read the
    title as markup first: a worker named "[/b]oops" would end the palette)."""
    content = plain(title)
    _, offsets = matcher.fuzzy_search.match(matcher.query, content.plain)
    for offset in offsets:
        if not content.plain[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class DashboardCommands(Provider):
    def _commands(self) -> list[Command]:
        # self.screen: the screen the palette was opened over.
        return dashboard_commands(cast("PqwApp", self.app), self.screen)

    async def discover(self) -> Hits:
        for c in self._commands():
            if c.discover:
                # help is typed str, but the palette passes a Content through as it is.
                yield DiscoveryHit(plain(c.title), c.run, c.title, cast(str, plain(c.help)))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for c in self._commands():
            score = matcher.match(c.title)
            if score > 0:
                help = cast(str, plain(c.help))
                yield Hit(score, highlighted(matcher, c.title), c.run, c.title, help)
