"""Inserting jobs: options, validation before anything is written, batches, transactions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from engine import (
    Client,
    InsertOpts,
    InvalidJobOption,
    InvalidJobType,
    Job,
    JobSpec,
    JobState,
    sql,
)
from engine.db.pool import connect
from engine.errors import DuplicateKind
from engine.jobs.inserter import COPY_THRESHOLD


def _cyclic() -> dict[str, object]:
    args: dict[str, object] = {}
    args["self"] = args
    return args


async def count_jobs(client: Client) -> int:
    return int(await client.pool.fetchval("SELECT count(*) FROM pqw_job"))


async def test_insert_returns_the_job_with_its_options(make_client: Callable[..., Client]) -> None:
    client = make_client()
    result = await client.insert(
        "email.send",
        {"to": "a@b.c"},
        queue="mail",
        priority=3,
        max_attempts=7,
        tags=["welcome"],
        metadata={"source": "signup"},
    )
    job = result.job
    assert not result.duplicate
    assert (job.kind, job.args, job.queue, job.priority, job.max_attempts) == (
        "email.send",
        {"to": "a@b.c"},
        "mail",
        3,
        7,
    )
    assert job.state is JobState.AVAILABLE and job.attempt == 0
    assert job.tags == ["welcome"] and job.metadata == {"source": "signup"}
    row = await client.pool.fetchrow(
        "SELECT state, queue, tags, metadata FROM pqw_job WHERE id = $1", job.id
    )
    assert dict(row) == {
        "state": "available",
        "queue": "mail",
        "tags": ["welcome"],
        "metadata": {"source": "signup"},
    }


async def test_kind_defaults_and_per_insert_overrides(make_client: Callable[..., Client]) -> None:
    client = make_client()

    @client.job("report.build", queue="reports", max_attempts=3, priority=2)
    async def build(job: object) -> None: ...

    default = (await build.enqueue({"id": 1})).job
    assert (default.queue, default.max_attempts, default.priority) == ("reports", 3, 2)
    opts = InsertOpts(priority=0)
    overridden = (await client.insert("report.build", {"id": 2}, opts=opts, max_attempts=9)).job
    assert (overridden.queue, overridden.priority, overridden.max_attempts) == ("reports", 0, 9)


async def test_future_scheduled_at_makes_a_scheduled_job(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()
    later = datetime.now(UTC) + timedelta(hours=1)
    job = (await client.insert("k", {}, scheduled_at=later)).job
    assert job.state is JobState.SCHEDULED and job.scheduled_at == later
    past = (await client.insert("k", {}, scheduled_at=later - timedelta(days=1))).job
    assert past.state is JobState.AVAILABLE


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"max_attempts": 0},
            InvalidJobOption,
            r"between 1 and 32767 \(the database column is a smallint\), got 0",
        ),
        ({"max_attempts": 40000}, InvalidJobOption, "smallint"),
        ({"max_attempts": "3"}, InvalidJobType, "max_attempts must be an int"),
        ({"priority": 10}, InvalidJobOption, "priority must be between 0 and 9"),
        ({"priority": -1}, InvalidJobOption, "priority"),
        ({"queue": ""}, InvalidJobOption, "queue must be 1 to 128 characters"),
        ({"queue": "has space"}, InvalidJobOption, r"\[A-Za-z0-9_.:-\]"),
        ({"queue": "q" * 129}, InvalidJobOption, "queue"),
        ({"scheduled_at": datetime(2030, 1, 1)}, InvalidJobType, "timezone-aware"),
        ({"tags": "urgent"}, InvalidJobType, "tags must be a list"),
        ({"metadata": [1]}, InvalidJobType, "metadata must be a JSON object"),
    ],
)
async def test_bad_options_are_refused_before_anything_is_written(
    make_client: Callable[..., Client], kwargs: dict, error: type, message: str
) -> None:
    client = make_client()
    await client.insert("warm.up", {})
    with pytest.raises(error, match=message):
        await client.insert("k", {}, **kwargs)
    assert await count_jobs(client) == 1


@pytest.mark.parametrize(
    ("kind", "args", "error", "message"),
    [
        ("", {}, InvalidJobOption, "kind must be 1 to 128 characters"),
        ("k" * 129, {}, InvalidJobOption, "kind must be 1 to 128"),
        ("k", [1, 2], InvalidJobType, "args must be a JSON object"),
        ("k", "text", InvalidJobType, "args must be a JSON object"),
        ("k", {"when": datetime.now()}, InvalidJobType, "args must be JSON-serializable"),
        ("k", {"x": float("nan")}, InvalidJobType, "args must be JSON-serializable"),
        ("k", {"s": {1, 2}}, InvalidJobType, "set is not JSON serializable"),
        ("k", _cyclic(), InvalidJobType, "circular reference"),
    ],
)
async def test_bad_kind_or_args_are_refused(
    make_client: Callable[..., Client], kind: str, args: object, error: type, message: str
) -> None:
    client = make_client()
    await client.insert("warm.up", {})
    with pytest.raises(error, match=message):
        await client.insert(kind, args)  # type: ignore[arg-type]
    assert await count_jobs(client) == 1


async def test_errors_are_value_and_type_errors() -> None:
    assert issubclass(InvalidJobOption, ValueError)
    assert issubclass(InvalidJobType, TypeError)


async def test_registering_a_kind_twice_is_refused(make_client: Callable[..., Client]) -> None:
    client = make_client()
    client.register("dup", lambda job: None)
    with pytest.raises(DuplicateKind, match="'dup' is already registered"):
        client.register("dup", lambda job: None)
    with pytest.raises(InvalidJobOption, match="max_attempts"):
        client.register("bad.defaults", lambda job: None, opts=InsertOpts(max_attempts=0))


async def test_insert_many_validates_every_row_first(make_client: Callable[..., Client]) -> None:
    client = make_client()
    await client.connect()
    with pytest.raises(InvalidJobType, match="args must be a JSON object"):
        await client.insert_many([("ok", {"n": 1}), ("ok", {"n": 2}), ("bad", [3])])
    assert await count_jobs(client) == 0


@pytest.mark.parametrize("size", [3, COPY_THRESHOLD + 50])
async def test_insert_many_returns_every_job_in_order(
    make_client: Callable[..., Client], size: int
) -> None:
    """Small batches go through one INSERT, large ones through COPY: both give jobs back."""
    client = make_client()
    later = datetime.now(UTC) + timedelta(minutes=5)
    specs: list = [("bulk", {"n": n}) for n in range(size)]
    specs.append(
        JobSpec(
            "bulk",
            {"n": size, "pair": (1, 2)},
            InsertOpts(queue="other", scheduled_at=later, tags=["t"], metadata={"m": 1}),
        )
    )
    results = await client.insert_many(specs)
    assert [r.job.args["n"] for r in results] == list(range(size + 1))
    assert all(not r.duplicate for r in results)
    rows = await client.pool.fetch(
        "SELECT id, args, queue, state, tags, created_at, scheduled_at FROM pqw_job ORDER BY id"
    )
    assert [r["id"] for r in rows] == [r.job.id for r in results]
    # The jobs given back hold the times that were stored, not the client's guesses.
    assert [(r["created_at"], r["scheduled_at"]) for r in rows] == [
        (r.job.created_at, r.job.scheduled_at) for r in results
    ]
    # Built from what was sent, each job given back equals the stored one, field by
    # field (a tuple in the args reads back as a list, as it was stored).
    stored = await client.pool.fetch(f"SELECT {sql.JOB_COLUMNS} FROM pqw_job ORDER BY id")
    assert [Job.from_record(r) for r in stored] == [r.job for r in results]
    assert results[-1].job.args["pair"] == [1, 2]
    assert (
        rows[-1]["queue"] == "other"
        and rows[-1]["state"] == "scheduled"
        and rows[-1]["tags"] == ["t"]
    )
    assert results[-1].job.state is JobState.SCHEDULED and results[-1].job.tags == ["t"]
    assert {r["state"] for r in rows[:-1]} == {"available"}


async def test_insert_in_the_callers_transaction(
    make_client: Callable[..., Client], dsn: str
) -> None:
    client = make_client()
    await client.connect()
    conn = await asyncpg.connect(dsn)  # a plain connection, none of pqw's codecs
    try:
        async with conn.transaction():
            kept = await client.insert("tx.kept", {"a": 1}, conn=conn)
        assert kept.job.args == {"a": 1}
        with pytest.raises(RuntimeError, match="boom"):
            async with conn.transaction():
                await client.insert("tx.rolled.back", {}, conn=conn)
                await client.insert_many(
                    [("tx.rolled.back", {"n": n}) for n in range(200)], conn=conn
                )
                raise RuntimeError("boom")
    finally:
        await conn.close()
    kinds = await client.pool.fetch("SELECT kind FROM pqw_job")
    assert [r["kind"] for r in kinds] == ["tx.kept"]


async def test_insert_only_client_needs_no_start(dsn: str) -> None:
    client = Client(dsn, auto_migrate=False)
    try:
        result = await client.insert("k", {})
        assert result.job.id > 0
    finally:
        await client.close()


async def test_insert_into_an_unmigrated_database_says_what_to_do(bare_dsn: str) -> None:
    from engine.errors import SchemaError

    client = Client(bare_dsn, auto_migrate=False)
    with pytest.raises(SchemaError, match="pqw migrate up"):
        await client.insert("k", {})


async def test_inserts_wake_a_listener_once_per_queue_per_statement(dsn: str) -> None:
    conn = await connect(dsn)
    seen: list[str] = []
    await conn.add_listener("pqw_insert", lambda *args: seen.append(args[3]))
    client = Client(dsn, auto_migrate=False)
    try:
        await client.insert_many(
            [("k", {}, InsertOpts(queue="a")), ("k", {}, InsertOpts(queue="b")), ("k", {})]
        )
        await client.insert("k", {}, scheduled_at=datetime.now(UTC) + timedelta(hours=1))
        await conn.execute("SELECT 1")  # notifications arrive before the next reply
        from tests.helpers import wait_for

        async def three() -> list[str]:
            await conn.execute("SELECT 1")
            return seen if len(seen) >= 3 else []

        await wait_for(three, timeout=5, message="three notifications")
        assert sorted(seen) == ["a", "b", "default"]  # the scheduled job woke nobody
    finally:
        await client.close()
        await conn.close()


async def test_a_job_read_from_its_row_is_the_job_its_fields_make(
    make_client: Callable[..., Client],
) -> None:
    # Job.from_record fills the object's fields at once instead of calling __init__:
    # it must give the same object, every field set, a stop signal of its own.
    client = make_client()
    await client.insert("mail.send", {"to": "a"}, tags=["t"], metadata={"m": 1})
    (row,) = await client.pool.fetch(f"SELECT {sql.JOB_COLUMNS} FROM pqw_job")
    job, again = Job.from_record(row), Job.from_record(row)
    assert set(vars(job)) == {f.name for f in dataclasses.fields(Job)}
    made = Job(**{f.name: getattr(job, f.name) for f in dataclasses.fields(Job) if f.init})
    assert job == made and repr(job) == repr(made) and job.state is JobState.AVAILABLE
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.kind = "other"  # type: ignore[misc]
    job._request_stop("cancel")
    assert job.stop_reason == "cancel" and not again.stopping
