"""drain_queue: a queue's available jobs run one by one in the test's own task with the
client's handlers, each outcome recorded in the database as a started client would."""

from __future__ import annotations

from typing import Any

from engine import Client, Job, JobCancel, JobSnooze, JobState
from engine.admin import Admin
from engine.testing import assert_inserted, drain_queue
from tests.clients import no_backoff


def app(dsn: str) -> Client:
    client = Client(dsn, queues={"default": 2}, auto_migrate=False, retry_backoff=no_backoff)

    @client.job("order.ship", max_attempts=2)
    async def ship(job: Job) -> None:
        if job.args.get("fail"):
            raise RuntimeError("carrier down")
        if job.args.get("snooze"):
            raise JobSnooze(0)
        if job.args.get("cancel"):
            raise JobCancel("address gone")
        await client.insert("order.notify", {"order": job.args["order"]})

    @client.job("order.notify")
    def notify(job: Job) -> None: ...

    return client


async def test_drain_runs_what_is_available_records_it_and_runs_what_it_inserted(
    dsn: str, conn: Any
) -> None:
    client = app(dsn)
    try:
        await client.insert("order.ship", {"order": 1})
        await client.insert("order.ship", {"order": 2, "fail": True})
        await client.insert("order.ship", {"order": 3, "cancel": True})
        await client.insert("order.ship", {"order": 4}, queue="other")  # another queue
        ran = await drain_queue(client)
        assert [(o.job.kind, o.job.args.get("order"), o.state) for o in ran] == [
            ("order.ship", 1, JobState.COMPLETED),
            ("order.ship", 2, JobState.RETRYABLE),
            ("order.ship", 3, JobState.CANCELLED),
            ("order.notify", 1, JobState.COMPLETED),  # inserted by the first, same drain
        ]
        assert [j.kind for j in ran[0].inserted] == ["order.notify"]
        assert ran[0].inserted[0].id == ran[3].job.id  # written for real
        assert ran[1].message == "RuntimeError: carrier down"

        admin = await Admin.connect(dsn)
        try:
            states = {j.args["order"]: j.state for j in await admin.list_jobs(kind="order.ship")}
        finally:
            await admin.close()
        assert states == {1: "completed", 2: "retryable", 3: "cancelled", 4: "available"}
        await assert_inserted(conn, "order.notify", state="completed", count=1)

        # The retry is due at once (no backoff): with_scheduled makes it available, and its
        # second attempt of two discards it.
        again = await drain_queue(client, with_scheduled=True)
        assert [(o.job.args["order"], o.job.attempt, o.state) for o in again] == [
            (2, 2, JobState.DISCARDED)
        ]
        assert await drain_queue(client) == []
    finally:
        await client.close()


async def test_drain_stops_at_its_limit(dsn: str) -> None:
    client = app(dsn)
    try:
        await client.insert_many([("order.ship", {"order": n, "snooze": True}) for n in range(3)])
        first = await drain_queue(client, limit=2)
        assert [o.snoozed_for for o in first] == [0.0, 0.0]
        # A snooze of 0 is due at once: with_scheduled runs it again, up to the limit.
        looped = await drain_queue(client, limit=5, with_scheduled=True)
        assert len(looped) == 5 and all(o.snoozed for o in looped)
        assert await drain_queue(client, limit=0) == []

        await client.insert("nobody.runs", {}, queue="orphans")
        (orphan,) = await drain_queue(client, "orphans")  # as a client without its handler
        assert orphan.failed and orphan.message is not None
        assert orphan.message.startswith("unknown job kind 'nobody.runs'")
    finally:
        await client.close()
