"""assert_inserted / assert_not_inserted / inserted_jobs: on a connection, inside an open
transaction (seeing what it has not committed), args and metadata matched by containment."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from engine import Client, JobState
from engine.testing import assert_inserted, assert_not_inserted, inserted_jobs


async def test_assertions_on_a_connection_and_inside_an_open_transaction(
    dsn: str, conn: Any
) -> None:
    client = Client(dsn, auto_migrate=False)
    try:
        await client.insert("email.send", {"to": "a@b.c", "lang": "en"}, queue="mail")
        await client.insert("email.send", {"to": "d@e.f"}, tags=["welcome", "x"], priority=0)

        (job,) = await assert_inserted(conn, "email.send", args={"to": "a@b.c"}, queue="mail")
        assert job.args == {"to": "a@b.c", "lang": "en"}
        await assert_inserted(conn, "email.send", count=2, state=JobState.AVAILABLE)
        await assert_inserted(conn, "email.send", tags=["welcome"], priority=0)
        await assert_not_inserted(conn, "email.send", args={"to": "a@b.c"}, queue="default")
        await assert_not_inserted(conn, "report.build")

        async with conn.transaction():
            await client.insert("report.build", {"day": "2026-12-02"}, conn=conn, metadata={"t": 1})
            await assert_inserted(
                conn, "report.build", args={"day": "2026-12-02"}, metadata={"t": 1}
            )
            # Another session does not see it before the commit.
            await assert_not_inserted(client.pool, "report.build")
        await assert_inserted(client.pool, "report.build", count=1)
    finally:
        await client.close()


async def test_failed_assertions_say_what_there_is(dsn: str, conn: Any) -> None:
    client = Client(dsn, auto_migrate=False)
    try:
        await client.insert("email.send", {"to": "a@b.c"})
        with pytest.raises(AssertionError) as wrong_args:
            await assert_inserted(conn, "email.send", args={"to": "z@z.z"})
        message = str(wrong_args.value)
        assert "expected a 'email.send' job with args={'to': 'z@z.z'}; none matched." in message
        assert "args={'to': 'a@b.c'} queue='default' state=available" in message

        with pytest.raises(
            AssertionError, match=r"expected exactly 2 'email\.send' job; 1 matched"
        ):
            await assert_inserted(conn, "email.send", count=2)
        with pytest.raises(AssertionError, match=r"There is no 'other\.kind' job at all"):
            await assert_inserted(conn, "other.kind")
        with pytest.raises(AssertionError, match=r"expected no 'email\.send' job; found: id \d+"):
            await assert_not_inserted(conn, "email.send")
    finally:
        await client.close()


async def test_a_plain_asyncpg_connection_and_every_kind(dsn: str) -> None:
    client = Client(dsn, auto_migrate=False)
    plain = await asyncpg.connect(dsn)  # no pqw codecs: jsonb comes back as text
    try:
        await client.insert_many([("a.kind", {"n": 1}), ("b.kind", {"n": 2, "deep": {"x": [1]}})])
        jobs = await inserted_jobs(plain)
        assert [(j.kind, j.args) for j in jobs] == [
            ("a.kind", {"n": 1}),
            ("b.kind", {"n": 2, "deep": {"x": [1]}}),
        ]
        (deep,) = await inserted_jobs(plain, args={"deep": {"x": [1]}})
        assert deep.kind == "b.kind"
        assert await inserted_jobs(plain, state=["completed", "running"]) == []
    finally:
        await plain.close()
        await client.close()
