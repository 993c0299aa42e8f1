"""Delays and timings a production queue cannot honour are refused where they are made.

A snooze or backoff past year 9999 stored a time Python cannot read back (every
jobs list that met the row failed), NaN left the outcome unwritable (the job stayed
running until rescued), and a job heartbeat timeout under its heartbeat interval
took every running job back from its live client, again and again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from engine import Client, InvalidJobOption, InvalidJobType, Job, JobSnooze
from engine.admin import Admin
from engine.types import MAX_DELAY_SECONDS
from tests.test_execution import wait_state

NOT_A_DELAY = [-1, 1e12, float("inf"), float("nan"), True, "5"]


@pytest.mark.parametrize("seconds", NOT_A_DELAY)
def test_a_snooze_that_is_not_a_delay_is_refused(seconds: Any) -> None:
    with pytest.raises(ValueError, match="snooze seconds must be"):
        JobSnooze(seconds)


def test_a_snooze_of_up_to_ten_years_is_a_delay() -> None:
    assert JobSnooze(0).seconds == 0 and JobSnooze(MAX_DELAY_SECONDS).seconds == MAX_DELAY_SECONDS


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"heartbeat_timeout": 1.5}, "heartbeat_timeout (1.5s) must be longer than"),
        ({"heartbeat_timeout": -1}, "heartbeat_timeout must be finite seconds > 0"),
        ({"poll_interval": 0}, "poll_interval must be finite seconds > 0"),
        ({"job_heartbeat_interval": 0}, "job_heartbeat_interval must be finite seconds > 0"),
        ({"job_heartbeat_interval": 40}, "heartbeat_timeout (30s) must be longer than"),
        ({"stop_timeout": -1}, "stop_timeout must be finite seconds >= 0"),
    ],
)
def test_client_timings_that_take_jobs_back_or_spin_are_refused(
    options: dict[str, Any], error: str
) -> None:
    with pytest.raises(InvalidJobOption) as refused:
        Client("postgresql://unused", **options)
    assert error in str(refused.value)


def test_a_kinds_heartbeat_timeout_must_outlast_the_clients_heartbeat_interval() -> None:
    with pytest.raises(InvalidJobOption, match=r"slow: heartbeat_timeout \(1s\) must be longer"):
        Client("postgresql://unused").register("slow", lambda job: None, heartbeat_timeout=1.0)
    fast = Client("postgresql://unused", job_heartbeat_interval=0.2)
    fast.register("slow", lambda job: None, heartbeat_timeout=1.0)
    assert fast.kinds["slow"].heartbeat_timeout == 1.0


def test_a_retry_backoff_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(InvalidJobType, match="retry_backoff must be a function of the job"):
        Client("postgresql://unused", retry_backoff=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidJobType, match="k: retry_backoff must be a function"):
        Client("postgresql://unused").register("k", lambda job: None, retry_backoff=5)  # type: ignore[arg-type]


async def test_a_far_snooze_fails_the_attempt_with_a_clear_error_and_every_list_reads(
    make_client: Callable[..., Client], dsn: str
) -> None:
    client = make_client(queues={"default": 1})

    @client.job("snooze.far")
    async def far(job: Job) -> None:
        raise JobSnooze(1e12)

    await client.start()
    job = (await far.enqueue({})).job
    row = await wait_state(client, job.id, "retryable")
    assert "snooze seconds must be from 0 to" in row["errors"][-1]["error"]
    admin = await Admin.connect(dsn)
    try:
        assert job.id in {j.id for j in await admin.list_jobs()}
    finally:
        await admin.close()


@pytest.mark.parametrize(
    "backoff",
    [lambda job: job.args["missing"], lambda job: 1e12, lambda job: float("nan")],
    ids=["raises", "past-year-9999", "nan"],
)
async def test_a_bad_retry_backoff_still_records_the_failure_with_the_default_delay(
    make_client: Callable[..., Client],
    backoff: Callable[[Job], float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(queues={"default": 1}, retry_backoff=backoff)

    @client.job("fails")
    async def fails(job: Job) -> None:
        raise RuntimeError("boom")

    await client.start()
    with caplog.at_level(logging.WARNING, logger="pqw.client"):
        job = (await fails.enqueue({})).job
        row = await wait_state(client, job.id, "retryable")
    error = row["errors"][-1]
    assert error["error"] == "RuntimeError: boom"
    # The default backoff: attempt**4 seconds and up to 10% more (the job may have
    # come due and failed again by now; the row says which attempt it was).
    delay = (row["scheduled_at"] - datetime.fromisoformat(error["at"])).total_seconds()
    base = row["attempt"] ** 4
    assert base - 0.1 <= delay <= base * 1.1 + 5  # + the time from failing to writing
    assert any("the default backoff is used" in r.getMessage() for r in caplog.records)
