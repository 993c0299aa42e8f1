"""A pool connection goes back reset (`RESET ALL`, `UNLISTEN *`, ...), except after pqw's
own inserts: their statements leave nothing on the session, so the reset round trip is
skipped, and a caller's insert returns one round trip sooner."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from engine import InsertOpts, JobSpec, UniqueOpts
from engine.db.pool import connect, create_pool, stateless_connection
from engine.jobs.insert_params import build_params
from engine.jobs.inserter import COPY_THRESHOLD, insert_rows


async def last_statement(dsn: str, pid: int) -> str:
    """What the server session `pid` ran last, read from another session."""
    other = await connect(dsn)
    try:
        return str(await other.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid))
    finally:
        await other.close()


@pytest.fixture
async def pool(dsn: str) -> Any:
    """A pool of one connection, so every acquire gets the same server session."""
    p = await create_pool(dsn, min_size=1, max_size=1)
    yield p
    await p.close()


async def server_pid(pool: asyncpg.Pool[Any]) -> int:
    async with pool.acquire() as conn:
        return int(conn.get_server_pid())


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(1, id="one row"),
        pytest.param(COPY_THRESHOLD, id="a COPY batch"),
        pytest.param(-3, id="a unique batch"),
    ],
)
async def test_an_insert_hands_its_connection_back_without_the_reset(
    dsn: str, pool: asyncpg.Pool[Any], rows: int
) -> None:
    pid = await server_pid(pool)
    assert "RESET ALL" in await last_statement(dsn, pid)  # an ordinary release resets
    opts = InsertOpts(unique=UniqueOpts(by_args=True)) if rows < 0 else InsertOpts()
    params = [build_params("mail.send", {"n": n % 2}, opts) for n in range(abs(rows))]
    results = await insert_rows(pool, params, own_pool=True)
    assert len(results) == abs(rows)
    if rows < 0:  # the batch met its own duplicates: the holders were read too
        assert [r.duplicate for r in results] == [False, False, True]
        assert "unique_key = ANY" in await last_statement(dsn, pid)
    elif rows >= COPY_THRESHOLD:  # ids reserved, then the COPY, in one transaction
        assert await last_statement(dsn, pid) == "COMMIT;"
    else:
        assert "INSERT INTO pqw_job" in await last_statement(dsn, pid)
    assert "RESET ALL" not in await last_statement(dsn, pid)


async def test_a_callers_session_changes_are_still_reset(pool: asyncpg.Pool[Any]) -> None:
    async with pool.acquire() as conn:
        await conn.execute("SET lock_timeout = '1s'")
        await conn.execute("LISTEN somewhere")
    await insert_rows(pool, [build_params("mail.send", {}, InsertOpts())], own_pool=True)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW lock_timeout") == "0"
        assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0


async def test_a_block_that_raised_is_reset(pool: asyncpg.Pool[Any]) -> None:
    with pytest.raises(RuntimeError):
        async with stateless_connection(pool) as conn:
            await conn.execute("SET lock_timeout = '2s'")
            raise RuntimeError("the block failed before it was done")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW lock_timeout") == "0"


async def test_skipping_is_for_one_release_only(pool: asyncpg.Pool[Any]) -> None:
    async with stateless_connection(pool) as conn:
        await conn.fetchval("SELECT 1")
    async with pool.acquire() as conn:  # an ordinary use after it
        await conn.execute("SET lock_timeout = '3s'")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW lock_timeout") == "0"


async def test_a_pool_that_is_not_pqws_resets_as_usual(dsn: str) -> None:
    plain = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        async with stateless_connection(plain) as conn:
            await conn.execute("SET lock_timeout = '4s'")
        async with plain.acquire() as conn:
            assert await conn.fetchval("SHOW lock_timeout") == "0"
    finally:
        await plain.close()


async def test_insert_many_from_a_client_skips_the_reset(make_client: Any, dsn: str) -> None:
    client = make_client()
    await client.insert_many([JobSpec("mail.send", {"n": n}) for n in range(3)])
    async with client.pool.acquire() as conn:
        pid = conn.get_server_pid()
    await client.insert_many([JobSpec("mail.send", {"n": n}) for n in range(3)])
    assert "RESET ALL" not in await last_statement(dsn, pid)
