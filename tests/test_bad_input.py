"""Bad input found by trying pqw as a new user would: each a clear error, nothing written.

Every test is named after what went wrong before: a raw driver error, a
traceback, a silent typo, a job that could never be recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from engine import (
    Client,
    DatabaseUnavailable,
    InvalidConfig,
    InvalidDatabaseUrl,
    InvalidJobOption,
    InvalidJobType,
    InvalidSchedule,
    Job,
    PersistentContext,
    UniqueOpts,
    every,
)
from engine.admin import Admin
from engine.db.pool import FLOOR_RETRIES, create_pool
from engine.jobs.insert_params import ARGS_MAX_BYTES
from engine.persistent.context import PersistentContext as Context
from tests.helpers import run_pqw, wait_for
from tests.test_execution import wait_state


async def count_jobs(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM pqw_job"))


async def test_nul_bytes_and_lone_surrogates_are_clear_errors_not_asyncpg_ones(
    make_client: Callable[..., Client], conn: asyncpg.Connection
) -> None:
    client = make_client()
    cases: list[tuple[Callable[[], Any], type[Exception], str]] = [
        (lambda: client.insert("a\x00b"), InvalidJobOption, "NUL"),
        (lambda: client.insert("a\ud800"), InvalidJobOption, "lone surrogate"),
        (lambda: client.insert("k", {"to": "a\x00b"}), InvalidJobOption, "args contains a NUL"),
        (lambda: client.insert("k", {"a\x00": 1}), InvalidJobOption, "args contains a NUL"),
        (lambda: client.insert("k", {"to": "\udfff"}), InvalidJobOption, "lone surrogate"),
        (lambda: client.insert("k", tags=["x\x00"]), InvalidJobOption, "tag"),
        (lambda: client.insert("k", tags=["\ud800"]), InvalidJobOption, "tag"),
        (lambda: client.insert("k", metadata={"m": "\x00"}), InvalidJobOption, "metadata"),
        (
            lambda: client.insert_many([("k", {}), ("k", {"x": "\x00"})]),
            InvalidJobOption,
            r"jobs\[1\]",
        ),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=words):
            await call()
    # A literal backslash-u-0000 is just text, and is stored as such.
    job = (await client.insert("k", {"text": "\\u0000"})).job
    assert job.args == {"text": "\\u0000"}
    assert await count_jobs(conn) == 1

    async def handler(ctx: PersistentContext) -> None: ...

    with pytest.raises(InvalidConfig, match="NUL"):
        client.persistent("nul", config={"url": "a\x00"})(handler)
    with pytest.raises(InvalidJobOption, match="NUL"):
        client.persistent("a\x00b")(handler)
    with pytest.raises(InvalidSchedule, match="control character"):
        client.periodic("k", every(60), id="tick\x1b[2J")


async def test_twenty_megabytes_of_args_are_refused_and_a_large_allowed_job_is_kept(
    make_client: Callable[..., Client], conn: asyncpg.Connection
) -> None:
    client = make_client()
    with pytest.raises(InvalidJobOption, match=r"args is 20\.0 MiB as JSON, over the limit"):
        await client.insert("big", {"blob": "x" * 20 * 1024 * 1024})
    with pytest.raises(InvalidJobOption, match="jobs\\[0\\]: args is"):
        await client.insert_many([("big", {"blob": "é" * ARGS_MAX_BYTES})])
    with pytest.raises(InvalidJobOption, match="metadata is"):
        await client.insert("big", metadata={"m": "x" * 100_000})
    assert await count_jobs(conn) == 0
    # Just under the limit is a job like any other.
    job = (await client.insert("big", {"blob": "x" * 900_000})).job
    assert len(job.args["blob"]) == 900_000

    async def handler(ctx: PersistentContext) -> None: ...

    with pytest.raises(InvalidConfig, match=r"config is .* over the limit"):
        client.persistent("huge", config={"feeds": ["https://example.com/f"] * 20_000})(handler)
    admin = await Admin.connect(client.dsn)
    try:
        await conn.execute("INSERT INTO pqw_persistent_worker (name) VALUES ('w')")
        with pytest.raises(InvalidConfig, match="over the limit"):
            await admin.set_worker_config("w", {"blob": "x" * 300_000})
        assert (await admin.get_worker("w")).config_version == 1
    finally:
        await admin.close()


async def test_progress_postgres_could_not_store_is_refused_and_the_last_one_kept() -> None:
    ctx = Context("w", run=1, job_id=1, config={}, config_version=1)
    ctx.progress({"polled": 3})
    for bad in ({"at": "a\x00b"}, {"blob": "x" * 20_000}, {"s": "\ud800"}):
        with pytest.raises(InvalidConfig, match="progress"):
            ctx.progress(bad)
    assert ctx._take_progress() == '{"polled":3}'


async def test_unique_true_a_dict_as_opts_and_odd_batch_items_are_clear_errors(
    make_client: Callable[..., Client], conn: asyncpg.Connection
) -> None:
    client = make_client()
    with pytest.raises(InvalidJobType, match="unique must be a UniqueOpts"):
        await client.insert("k", unique=True)
    with pytest.raises(InvalidJobType, match="by_period must be a timedelta"):
        await client.insert("k", unique=UniqueOpts(by_period=60))  # type: ignore[arg-type]
    with pytest.raises(InvalidJobType, match="by_args must be True, False or a list"):
        await client.insert("k", unique=UniqueOpts(by_args=[1]))  # type: ignore[list-item]
    with pytest.raises(InvalidJobType, match=r"jobs\[1\]: opts must be an InsertOpts"):
        await client.insert_many([("k", {}), ("k", {}, {"queue": "mail"})])  # type: ignore[list-item]
    with pytest.raises(InvalidJobType, match=r"jobs\[0\]: each job must be a JobSpec"):
        await client.insert_many(["k"])  # type: ignore[list-item]
    with pytest.raises(InvalidJobType, match="jobs must be a list"):
        await client.insert_many({"k": {}})  # type: ignore[arg-type]
    with pytest.raises(InvalidJobType, match="opts must be an InsertOpts"):
        await client.insert("k", opts={"queue": "mail"})  # type: ignore[arg-type]
    with pytest.raises(InvalidJobType, match="'qeue' \\(did you mean 'queue'\\?\\)"):
        await client.insert("k", qeue="mail")
    assert await count_jobs(conn) == 0


def test_every_nan_and_every_a_string_are_invalid_schedules() -> None:
    for bad in (float("nan"), float("inf"), "5", None, True, 1e300, timedelta(days=100_000)):
        with pytest.raises(InvalidSchedule):
            every(bad)  # type: ignore[arg-type]


async def test_a_misspelt_persistent_option_is_refused_naming_the_right_one(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()

    async def handler(ctx: PersistentContext) -> None: ...

    with pytest.raises(
        InvalidJobType, match="'heartbeat_timout' \\(did you mean 'heartbeat_timeout'"
    ):
        client.persistent("x", heartbeat_timout=99)(handler)  # type: ignore[call-arg]
    with pytest.raises(InvalidJobOption, match="heartbeat_interval must be finite"):
        client.persistent("x", heartbeat_interval=float("nan"))(handler)
    with pytest.raises(InvalidJobType, match="heartbeat_timeout must be a number"):
        client.persistent("x", heartbeat_timeout="5")(handler)  # type: ignore[typeddict-item]
    with pytest.raises(InvalidJobType, match="enabled must be True or False"):
        client.persistent("x", enabled="no")(handler)  # type: ignore[typeddict-item]
    assert client.persistent_manager.names == []


async def test_a_persistent_config_that_is_not_json_fails_where_it_is_defined(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()

    async def handler(ctx: PersistentContext) -> None: ...

    with pytest.raises(InvalidConfig, match="persistent worker 'x': config must be JSON"):
        client.persistent("x", config={"when": object()})(handler)
    with pytest.raises(InvalidConfig, match="config must be a dict"):
        client.persistent("x", config=["a"])(handler)
    assert client.persistent_manager.names == []


async def test_a_job_queue_named_as_a_persistent_queue_is_refused_not_overridden(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(queues={"default": 1})

    @client.persistent("sync", queue="persistent2")
    async def sync(ctx: PersistentContext) -> None: ...

    with pytest.raises(InvalidJobOption, match="'persistent2' carries the runs of"):
        client.configure(queues={"persistent2": 3})
    assert client.queues == {"default": 1}


async def test_a_handler_error_holding_nul_or_a_surrogate_is_still_recorded(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(queues={"default": 2})

    @client.job("odd", max_attempts=1)
    async def odd(job: Job) -> None:
        raise ValueError("bad byte \x00, bad half \ud800, " + "x" * 10_000)

    await client.start()
    job = (await odd.enqueue({})).job
    row = await wait_state(client, job.id, "discarded")
    error = row["errors"][0]["error"]
    assert error.startswith("ValueError: bad byte \\x00, bad half \\ud800, xxx")
    assert "more characters cut" in error and len(error) < 5_000


async def test_a_port_beyond_65535_is_one_clear_line_not_an_overflow_traceback() -> None:
    url = "postgresql://app:hunter2secret@127.0.0.1:99999/app"
    with pytest.raises(InvalidDatabaseUrl, match="port '99999'"):
        await Admin.connect(url)
    with pytest.raises(InvalidDatabaseUrl, match="port '99999'") as caught:
        await Client(url).insert("k")
    assert "hunter2secret" not in str(caught.value)
    for command in (["migrate", "status"], ["queue", "pause", "mail"]):
        result = await asyncio.to_thread(run_pqw, *command, "--dsn", url)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr and "hunter2secret" not in result.stderr
        assert "port '99999': a port is a number from 1 to 65535" in result.stderr


async def database_of(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SELECT current_database()"))
    finally:
        await conn.close()


async def refuse_connections(db: asyncpg.Connection, database: str, allow: bool) -> None:
    # Identifiers take no bind parameters; the name is the test's own database.
    assert database.replace("_", "").isalnum()
    await db.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allow).lower()}')
    if not allow:
        await db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )


async def test_errors_during_an_outage_are_database_unavailable_not_driver_errors(
    make_client: Callable[..., Client], dsn: str, pg_server: str
) -> None:
    client = make_client()
    await client.insert("k")
    admin = await Admin.connect(dsn)
    server = await asyncpg.connect(pg_server)
    database = await database_of(dsn)
    try:
        await refuse_connections(server, database, allow=False)
        for _ in range(2):  # the cut connection, then a refused reconnect
            with pytest.raises(DatabaseUnavailable, match="cannot connect to Postgres at"):
                await client.insert("k")
            with pytest.raises(DatabaseUnavailable, match="cannot connect to Postgres at"):
                await admin.list_jobs()
            with pytest.raises(DatabaseUnavailable):
                await admin.stop_worker("w")
    finally:
        await refuse_connections(server, database, allow=True)
        await server.close()
        admin.terminate()
    assert (await client.insert("k")).job.id > 0


async def test_asyncpg_floor_retries_are_one_line_per_outage_not_a_traceback_each(
    dsn: str, pg_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    server = await asyncpg.connect(pg_server)
    database = await database_of(dsn)
    caplog.set_level(logging.INFO)
    try:
        await refuse_connections(server, database, allow=False)
        # asyncpg retries the floor at once, then 1 s later: two failures.
        await wait_for(lambda: FLOOR_RETRIES.failures >= 2, timeout=20, message="two retries")
        await refuse_connections(server, database, allow=True)
        await wait_for(lambda: pool.get_size() >= 1, timeout=20, message="the floor restored")
    finally:
        await refuse_connections(server, database, allow=True)
        await server.close()
        await pool.close()
    lines = [r for r in caplog.records if r.name == "asyncpg.pool"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None and "\n" not in lines[0].getMessage()
    assert "cannot reconnect" in lines[0].getMessage()
    assert any("reconnected after" in r.getMessage() for r in caplog.records)
