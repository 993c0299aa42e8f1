"""run_job: a handler run once with a job made from a kind and args, no client started and no
database; the outcome read the way the executor reads it, and its inserts recorded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine import Client, Job, JobCancel, JobSnooze, JobState
from engine.hooks import NextWork
from engine.testing import run_job

# No dsn anywhere: a client that never connects. Its URL points at nothing that listens,
# so a test that touched the database would fail loudly instead of passing by luck.
NOWHERE = "postgresql://nobody@127.0.0.1:9/nothing"


def app() -> Client:
    client = Client(NOWHERE, queues={"default": 2, "mail": 1})

    @client.job("email.send", queue="mail", max_attempts=3, tags=["mail"])
    async def send_email(job: Job) -> None:
        if job.args.get("later"):
            raise JobSnooze(60)
        if job.args.get("spam"):
            raise JobCancel("marked as spam")
        if "@" not in job.args["to"]:
            raise ValueError(f"bad address {job.args['to']!r}")
        await client.insert("email.sent", {"to": job.args["to"]}, priority=0)

    @client.job("email.sent")
    def record_sent(job: Job) -> None:  # sync: runs in a thread
        client_thread_inserts.append(job.args["to"])

    @client.job("report.build", timeout=0.05)
    async def build_report(job: Job) -> None:
        await asyncio.sleep(5)

    return client


client_thread_inserts: list[str] = []


async def test_completed_with_the_kinds_defaults_and_the_jobs_it_inserted() -> None:
    client = app()
    outcome = await run_job(client, "email.send", {"to": "a@b.c"})
    assert outcome.completed and not outcome.failed and outcome.error is None
    job = outcome.job
    assert (job.kind, job.queue, job.max_attempts, job.tags, job.attempt) == (
        "email.send",
        "mail",
        3,
        ["mail"],
        1,
    )
    (sent,) = outcome.inserted
    assert (sent.kind, sent.args, sent.priority, sent.state) == (
        "email.sent",
        {"to": "a@b.c"},
        0,
        JobState.AVAILABLE,
    )
    assert sent.id < 0  # recorded, never written
    assert str(outcome) == "job 1 email.send: completed"


async def test_snoozed_for_how_long_cancelled_and_failed_with_the_error() -> None:
    client = app()
    snoozed = await run_job(client, "email.send", {"to": "a@b.c", "later": True})
    assert snoozed.snoozed and snoozed.snoozed_for == 60.0 and snoozed.state is JobState.SCHEDULED
    assert snoozed.inserted == []

    cancelled = await run_job(client, "email.send", {"to": "a@b.c", "spam": True})
    assert cancelled.cancelled and cancelled.message == "JobCancel: marked as spam"
    assert isinstance(cancelled.error, JobCancel)

    failed = await run_job(client, "email.send", {"to": "nobody"})
    assert failed.failed and failed.state is JobState.RETRYABLE and not failed.discarded
    assert isinstance(failed.error, ValueError)
    assert failed.message == "ValueError: bad address 'nobody'"
    assert failed.retry_in is not None and failed.retry_in > 0  # the client's backoff

    last = await run_job(client, "email.send", {"to": "nobody"}, attempt=3)
    assert last.failed and last.discarded  # attempts spent: 3 of max_attempts 3


async def test_the_kinds_timeout_a_sync_handler_and_a_handler_from_the_decorator() -> None:
    client = app()
    timed_out = await run_job(client, "report.build", {})
    assert timed_out.failed and timed_out.message == "timed out after 0.05s"

    client_thread_inserts.clear()
    outcome = await run_job(client.kinds["email.sent"].fn, "email.sent", {"to": "x@y.z"})
    assert outcome.completed and client_thread_inserts == ["x@y.z"]


async def test_a_handler_from_the_decorator_runs_through_its_clients_work_middleware() -> None:
    seen: list[str] = []

    class Audit:
        async def work(self, job: Job, call_next: NextWork) -> None:
            seen.append(f"before {job.kind}")
            result = await call_next()
            seen.append(f"after {result.state}")
            if job.args.get("forbidden"):
                raise JobCancel("not allowed")

    client = Client(NOWHERE, middleware=[Audit()])

    @client.job("audit.me")
    async def audited(job: Job) -> None:
        await client.insert_many([("audit.child", {"n": n}) for n in range(3)])
        await audited_child.enqueue({"n": 3})

    @client.job("audit.child")
    async def audited_child(job: Job) -> None: ...

    outcome = await run_job(audited, args={"forbidden": True}, queue="other", metadata={"m": 1})
    assert outcome.cancelled and outcome.message == "JobCancel: not allowed"
    assert seen == ["before audit.me", "after completed"]
    assert outcome.job.queue == "other" and outcome.job.metadata == {"m": 1}
    assert [j.args["n"] for j in outcome.inserted] == [0, 1, 2, 3]
    assert len({j.id for j in outcome.inserted}) == 4

    seen.clear()
    plain = await run_job(audited, middleware=False)
    assert plain.completed and seen == []


async def test_a_plain_function_and_the_mistakes_it_refuses() -> None:
    async def handler(job: Job) -> None:
        assert job.args == {"when": "2026-12-02", "n": [1, 2]}  # as JSON would hand them back

    outcome = await run_job(handler, "plain.kind", {"when": "2026-12-02", "n": (1, 2)})
    assert outcome.completed

    client = app()
    with pytest.raises(LookupError, match=r"no handler for job kind 'nope'.*email\.send"):
        await run_job(client, "nope", {})
    with pytest.raises(TypeError, match="give the kind"):
        await run_job(client)
    with pytest.raises(TypeError, match="give the kind"):
        await run_job(handler)
    with pytest.raises(TypeError, match="args must be"):
        await run_job(handler, "plain.kind", [1, 2])  # type: ignore[arg-type]
    bad: Any = 42
    with pytest.raises(TypeError, match="needs a Client"):
        await run_job(bad, "plain.kind")


async def test_a_handler_that_loops_until_told_to_stop_returns_after_stop_after() -> None:
    rounds: list[str | None] = []

    async def follow(job: Job) -> None:
        while not job.stopping:
            rounds.append(job.stop_reason)
            await job.sleep(0.01)
        rounds.append(job.stop_reason)

    outcome = await run_job(follow, "feed.follow", stop_after=0.05)
    assert outcome.completed
    assert len(rounds) >= 2 and rounds[0] is None and rounds[-1] == "shutdown"
