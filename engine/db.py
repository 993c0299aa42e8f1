"""Connections to Postgres: codecs, pools, and connection errors turned into one clear line."""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import asyncpg

from engine import json_text
from engine.dsn import describe_dsn, mask_dsn
from engine.errors import DatabaseUnavailable
from engine.insert_params import RawJson

T = TypeVar("T")

# A connection of our own or one borrowed from a pool: both run queries alike.
Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"

# Errors that mean "the database is not there right now" rather than "the query is wrong".
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionFailureError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidPasswordError,
    # A session cut mid-operation can leave asyncpg's protocol in a state it
    # refuses to leave ("another operation is in progress"); the pool replaces it.
    asyncpg.InternalClientError,
)

# What a failed connect can raise: unreachable, refused, bad credentials, bad DSN.
_CONNECT_FAILURES: tuple[type[BaseException], ...] = (
    *CONNECTION_ERRORS,
    asyncpg.PostgresError,
    ValueError,
)


def json_dumps(value: Any) -> str:
    return json_text.dumps(value)


def _encode_json(value: Any) -> str:
    if isinstance(value, RawJson):
        return str(value)
    return json_dumps(value)


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


def connection_failure(dsn: str, exc: BaseException) -> DatabaseUnavailable:
    """One clear line: which database, what failed, the password masked."""
    reason = str(exc).strip() or type(exc).__name__
    if isinstance(exc, socket.gaierror):
        reason = f"host name not found ({reason})"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused (is Postgres running and listening there?)"
    elif isinstance(exc, FileNotFoundError):
        reason = "no server socket there (is Postgres running?)"
    reason = mask_dsn(reason)
    return DatabaseUnavailable(f"cannot connect to Postgres at {describe_dsn(dsn)}: {reason}")


async def _guarded(dsn: str, make: Callable[[], Awaitable[T]]) -> T:
    try:
        return await make()
    except DatabaseUnavailable:
        raise
    except _CONNECT_FAILURES as exc:
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


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 10.0,
    server_settings: dict[str, str] | None = None,
) -> asyncpg.Pool[Any]:
    """A pool with pqw's codecs; DatabaseUnavailable when the first connection fails."""

    async def make() -> asyncpg.Pool[Any]:
        pool: asyncpg.Pool[Any] = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=init_connection,
            timeout=timeout,
            max_inactive_connection_lifetime=60.0,
            server_settings=server_settings,
        )
        return pool

    return await _guarded(dsn, make)


# SQLSTATE classes that mean the server or the session is the problem, not the
# query: connection exceptions (08), operator intervention such as shutdown or
# "cannot connect now" (57P), insufficient resources such as too many
# connections (53), and a database that is not accepting connections (55000).
_OUTAGE_SQLSTATES = ("08", "57P", "53")


def is_connection_error(exc: BaseException) -> bool:
    """True when exc means the database went away (retry later), not a bad query."""
    if isinstance(exc, CONNECTION_ERRORS):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if not isinstance(sqlstate, str):
        return False
    if sqlstate.startswith(_OUTAGE_SQLSTATES):
        return True
    return sqlstate == "55000" and "not currently accepting connections" in str(exc)
