"""Cancel, retry and delete a job: asked first where it destroys, pending until a read confirms."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.admin import FINAL_STATES, BulkStep, Job, JobQuery, JobState
from tui.actions.operator import run_operator_action
from tui.data import pending
from tui.data.feed import ActionFailed
from tui.data.jobs_window import JobFilter
from tui.data.pending import JOB
from tui.data.search import describe_filter, to_query
from tui.data.source import AdminCall
from tui.screens.bulk import BulkModal, BulkOutcome
from tui.screens.confirm import ConfirmationModal

if TYPE_CHECKING:
    from tui.app import PqwApp


def describe_job(job: Job) -> str:
    """ "email.send in mail, retryable, attempt 2 of 5" for a question about it."""
    return f"{job.kind} in {job.queue}, {job.state}, attempt {job.attempt} of {job.max_attempts}"


class JobActions:
    """The job actions of the jobs list, the job view and the palette, in one place."""

    def __init__(self, app: PqwApp) -> None:
        self.app = app

    def request(self, action: str, job: Job) -> None:
        if self.app.refuse_if_read_only(f"{action.capitalize()} job {job.id}"):
            return
        run: dict[str, Callable[[Job], None]] = {
            "cancel": self.cancel,
            "retry": self.retry,
            "delete": self.delete,
        }
        run[action](job)

    def _ask(self, title: str, question: str, label: str, then: Callable[[], None]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmationModal(title, question, label), answered)

    def cancel(self, job: Job) -> None:
        if job.state in FINAL_STATES:
            self.app.notify(
                f"Job {job.id} is already {job.state}", severity="warning", markup=False
            )
            return
        running = job.state is JobState.RUNNING
        outcome = (
            "Its runner is told to stop it; it ends within a second or so."
            if running
            else "It will not run again (retry brings it back)."
        )
        self._ask(
            f"Cancel job {job.id}?",
            f"{describe_job(job)}.\n{outcome}",
            "Cancel job",
            lambda: self._run(f"Cancel job {job.id}", job, "cancel", pending.cancelling(running)),
        )

    def retry(self, job: Job) -> None:
        # Nothing is lost by a retry, so it is not asked about; the engine refuses
        # a running job, or one whose unique key a live duplicate holds.
        self._run(f"Retry job {job.id}", job, "retry", pending.retrying())

    def delete(self, job: Job) -> None:
        self._ask(
            f"Delete job {job.id}?",
            f"{describe_job(job)}.\nThe job, its args and its errors are removed for good.",
            "Delete job",
            lambda: self._run(f"Delete job {job.id}", job, "delete", pending.deleting()),
        )

    def _run(self, what: str, job: Job, action: str, change: pending.PendingChange[Job]) -> None:
        job_id = job.id
        calls: dict[str, AdminCall[Job]] = {
            "cancel": lambda admin: admin.cancel_job(job_id),
            "retry": lambda admin: admin.retry_job(job_id),
            "delete": lambda admin: admin.delete_job(job_id),
        }
        run_operator_action(
            self.app, what, calls[action], self.app.pending.jobs, str(job_id), JOB, change
        )

    # ------------------------------------------------------------------
    # Many jobs at once
    # ------------------------------------------------------------------

    def bulk(self, action: str, where: JobFilter, marked: list[int]) -> None:
        """`action` on the marked jobs or, none marked, on every job `where` matches:
        counted, asked about with the count, then run in batches with progress."""
        app = self.app
        if app.refuse_if_read_only(f"{action.capitalize()} jobs"):
            return
        verb = {"cancel": "cancelled", "retry": "retried", "delete": "deleted"}[action]
        query = to_query(where)

        async def ask() -> None:
            if marked:
                n, what = (
                    len(marked),
                    f"the {len(marked):,} marked job{'s' if len(marked) != 1 else ''}",
                )
            else:
                try:
                    count = await app.feed.read(lambda admin: admin.count_jobs(query))
                except ActionFailed as exc:
                    app.notify(str(exc), title="Jobs not counted", severity="error", markup=False)
                    return
                if count.n == 0:
                    app.notify("No jobs match the filter", severity="warning", markup=False)
                    return
                n = count.n
                at_least = "" if count.exact else "at least "
                what = f"{at_least}{count.n:,} {describe_filter(where)}"
            outcome = BULK_OUTCOMES[action]
            self._ask(
                f"{action.capitalize()} {n:,} job{'s' if n != 1 else ''}?",
                f"{what[0].upper()}{what[1:]}.\n{outcome}\nIt runs in batches of "
                "up to 1,000 (fewer when the database is slow) and can be stopped "
                "between them (esc).",
                f"{action.capitalize()} {n:,}",
                lambda: self._run_bulk(action, verb, query, marked, n),
            )

        app.run_worker(ask(), name="bulk-count", group="actions", exit_on_error=False)

    def _run_bulk(
        self, action: str, verb: str, query: JobQuery, marked: list[int], total: int
    ) -> None:
        app = self.app

        async def batch(below: int | None, size: int) -> BulkStep:
            return await app.feed.act(
                lambda admin: admin.bulk_step(
                    action,
                    query=None if marked else query,
                    ids=marked or None,
                    below=below,
                    batch=size,
                )
            )

        def finished(outcome: BulkOutcome | None) -> None:
            if outcome is None:
                return
            said = f"{outcome.acted:,} jobs {verb}"
            if outcome.skipped:
                said += f", {outcome.skipped:,} left as they were (running or held by a worker)"
            if outcome.error is not None:
                app.notify(
                    f"{said}; then: {outcome.error}",
                    title="Bulk action failed",
                    severity="error",
                    markup=False,
                )
            else:
                title = "Bulk action stopped" if outcome.cancelled else "Bulk action done"
                app.notify(said, title=title, markup=False)
            app.refresh_now()

        app.push_screen(BulkModal(f"{action.capitalize()} jobs", total, batch, verb), finished)


BULK_OUTCOMES = {
    "cancel": "Waiting ones are cancelled; running ones are asked to stop.",
    "retry": "Each runs again now (running ones are left alone).",
    "delete": "They are removed for good, args and errors too (running ones are left alone).",
}
