"""Cancel, retry and delete a job: asked first where it destroys, pending until a read confirms."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.admin import FINAL_STATES, Job, JobState
from tui.actions.operator import run_operator_action
from tui.data import pending
from tui.data.pending import JOB
from tui.data.source import AdminCall
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
