"""The sample cluster's jobs and schedules: fixed ids, times and errors, for pictures and tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.admin import FINAL_STATES, Job, JobState, PeriodicInfo

SMTP_TRACE = """Traceback (most recent call last):
  File "/srv/app/pqw/engine/executor.py", line 88, in run
    await handler(job)
  File "/srv/app/mailer/jobs.py", line 41, in send_email
    await smtp.send_message(message)
  File "/srv/app/.venv/lib/python3.12/site-packages/aiosmtplib/smtp.py", line 512, in send_message
    raise SMTPServerDisconnected("Connection lost")
ConnectionError: SMTP server closed the connection"""

BOUNCE_TRACE = """Traceback (most recent call last):
  File "/srv/app/pqw/engine/executor.py", line 88, in run
    await handler(job)
  File "/srv/app/mailer/jobs.py", line 44, in send_email
    raise PermanentFailure(reply)
mailer.errors.PermanentFailure: 550 5.1.1 mailbox unavailable"""


def _error(now: datetime, attempt: int, age: float, error: str, trace: str) -> dict[str, Any]:
    return {
        "attempt": attempt,
        "at": (now - timedelta(seconds=age)).isoformat(),
        "error": error,
        "trace": trace,
    }


def sample_jobs(now: datetime) -> list[Job]:
    """Jobs of every state in the mail queue, and a few in default; newest first."""

    def ago(seconds: float) -> datetime:
        return now - timedelta(seconds=seconds)

    def job(
        job_id: int,
        state: JobState,
        created: float,
        to: str,
        *,
        kind: str = "email.send",
        queue: str = "mail",
        attempt: int = 0,
        errors: list[dict[str, Any]] | None = None,
        scheduled: float | None = None,
        attempted: float | None = None,
        **fields: Any,
    ) -> Job:
        final = state in FINAL_STATES
        return Job(
            id=job_id,
            kind=kind,
            args={"to": to, "template": "order-shipped"} if kind == "email.send" else {"id": to},
            queue=queue,
            priority=1,
            state=state,
            attempt=attempt,
            max_attempts=5,
            created_at=ago(created),
            scheduled_at=ago(scheduled if scheduled is not None else created),
            attempted_at=ago(attempted) if attempted is not None else None,
            finalized_at=fields.pop(
                "finalized_at", ago(attempted - 0.4) if final and attempted is not None else None
            ),
            errors=errors or [],
            metadata=fields.pop("metadata", {"request_id": f"req-{job_id:x}"}),
            tags=fields.pop("tags", ["transactional"]),
            attempted_by=["c01-worker-a-4123"] * min(attempt, 1),
            **fields,
        )

    smtp = "ConnectionError: SMTP server closed the connection"
    bounce = "PermanentFailure: 550 5.1.1 mailbox unavailable"
    return [
        job(90_318, JobState.AVAILABLE, 2, "ana@example.com"),
        job(90_317, JobState.AVAILABLE, 3, "bo@example.com"),
        job(90_316, JobState.RUNNING, 4, "chen@example.com", attempt=1, attempted=1),
        job(
            90_311,
            JobState.RETRYABLE,
            95,
            "dee@example.com",
            attempt=2,
            attempted=12,
            scheduled=-21,
            errors=[
                _error(now, 1, 80, smtp, SMTP_TRACE),
                _error(now, 2, 12, smtp, SMTP_TRACE),
            ],
        ),
        job(90_305, JobState.SCHEDULED, 140, "eli@example.com", scheduled=-3_460),
        job(90_298, JobState.COMPLETED, 190, "fay@example.com", attempt=1, attempted=188),
        job(
            90_291,
            JobState.COMPLETED,
            260,
            "gus@example.com",
            attempt=2,
            attempted=200,
            errors=[_error(now, 1, 255, smtp, SMTP_TRACE)],
        ),
        job(
            90_280,
            JobState.CANCELLED,
            420,
            "hal@example.com",
            finalized_at=now - timedelta(seconds=385),
            metadata={"request_id": "req-160b8", "cancel_requested_at": "2026-03-14T09:20:28Z"},
        ),
        job(
            90_244,
            JobState.DISCARDED,
            3_900,
            "ivy@example.invalid",
            attempt=5,
            attempted=610,
            errors=[_error(now, n, 3_900 - n * 650, bounce, BOUNCE_TRACE) for n in range(1, 6)],
        ),
        job(90_230, JobState.COMPLETED, 4_020, "jo@example.com", attempt=1, attempted=4_018),
        job(90_312, JobState.AVAILABLE, 60, "ord-7731", kind="invoice.render", queue="default"),
        job(
            90_301,
            JobState.RUNNING,
            150,
            "ord-7729",
            kind="invoice.render",
            queue="default",
            attempt=1,
            attempted=6,
        ),
    ]


def sample_periodic(now: datetime) -> list[PeriodicInfo]:
    def at(seconds: float) -> datetime:
        return now + timedelta(seconds=seconds)

    return [
        PeriodicInfo(
            "billing.sync",
            "billing.sync",
            "every 300s",
            {},
            True,
            at(-95),
            at(-395),
            90_012,
            last_outcome="inserted",
            last_job_state=JobState.AVAILABLE,
            queue="billing",
            runners=0,
        ),
        PeriodicInfo(
            "ledger.close",
            "ledger.close",
            "cron 0 2 * * * UTC",
            {},
            True,
            at(59_587),
            at(-26_813),
            88_412,
            last_outcome="inserted",
            last_job_state=JobState.COMPLETED,
            queue="default",
            runners=2,
        ),
        PeriodicInfo(
            "report.build",
            "report.build",
            "every 30s",
            {"report": "hourly-usage"},
            True,
            at(12),
            at(-18),
            90_044,
            last_outcome="skipped",
            skips=14,
            last_job_state=JobState.RUNNING,
            queue="default",
            runners=2,
        ),
        PeriodicInfo(
            "search.reindex",
            "search.reindex",
            "every 3600s",
            {"full": False},
            False,
            at(-1_250),
            at(-4_850),
            89_977,
            last_outcome="inserted",
            last_job_state=JobState.COMPLETED,
            queue="default",
            runners=2,
        ),
    ]
