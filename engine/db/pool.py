"""Connections to Postgres: pqw's JSON codecs on every session, pools, single connections."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias, TypeVar

import asyncpg

from engine.db.json_text import RawJson, dumps
from engine.db.outage import CONNECT_FAILURES, connection_failure
from engine.errors import DatabaseUnavailable

T = TypeVar("T")

# A connection of our own or one borrowed from a pool: both run queries alike.
Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"


def _encode_json(value: Any) -> str:
    if isinstance(value, RawJson):
        return str(value)
    return dumps(value)


def _encode_jsonb(value: Any) -> bytes:
    # jsonb's binary format is a version byte, then the JSON text.
    return b"\x01" + _encode_json(value).encode()


def _decode_jsonb(data: bytes) -> Any:
    return json.loads(data[1:])


async def init_connection(conn: asyncpg.Connection[Any]) -> None:
    """Decode json/jsonb as Python values on every connection pqw opens.

    jsonb uses the binary format so COPY (which is binary in asyncpg) can carry it.
    """
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec("json", encoder=_encode_json, decoder=json.loads, schema="pg_catalog")


async def _guarded(dsn: str, make: Callable[[], Awaitable[T]]) -> T:
    try:
        return await make()
    except DatabaseUnavailable:
        raise
    except CONNECT_FAILURES as exc:
        raise connection_failure(dsn, exc) from exc


async def connect(
    dsn: str, *, timeout: float = 10.0, application_name: str = "pqw"
) -> asyncpg.Connection[Any]:
    """A single connection with pqw's codecs; DatabaseUnavailable when it cannot be made."""

    async def make() -> asyncpg.Connection[Any]:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(
            dsn, timeout=timeout, server_settings={"application_name": application_name}
        )
        await init_connection(conn)
        return conn

    return await _guarded(dsn, make)


async def prepare_statements(conn: asyncpg.Connection[Any], statements: Sequence[str]) -> None:
    """Parse statements now, into the cache that conn.fetch() and friends use.

    A statement run for the first time on a connection is parsed in a round trip
    of its own (Parse/Describe/Flush, no Sync): a session frozen right there is
    active, not idle, and holds whatever its transaction has locked. Prepared up
    front, later runs are one Bind/Execute/Sync. asyncpg has no public way to
    fill that cache without running the statement, so this uses its private
    `_prepare`; where that is gone, nothing is prepared (the statements still work).
    """
    prepare = getattr(conn, "_prepare", None)
    if prepare is None:
        return
    for statement in statements:
        await prepare(statement, use_cache=True)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 10.0,
    server_settings: dict[str, str] | None = None,
    prepare: Sequence[str] = (),
) -> asyncpg.Pool[Any]:
    """A pool with pqw's codecs (and `prepare` parsed on each new connection);
    DatabaseUnavailable when the first connection fails."""

    async def init(conn: asyncpg.Connection[Any]) -> None:
        await init_connection(conn)
        if prepare:
            await prepare_statements(conn, prepare)

    async def make() -> asyncpg.Pool[Any]:
        pool: asyncpg.Pool[Any] = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=init,
            timeout=timeout,
            max_inactive_connection_lifetime=60.0,
            server_settings=server_settings,
        )
        return pool

    return await _guarded(dsn, make)
