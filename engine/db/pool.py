"""Connections to Postgres: pqw's JSON codecs on every session, pools, single connections."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeAlias, TypeVar

import asyncpg

from engine import sql
from engine.db.dsn import PoolMode, mask_dsn, split_pool_mode
from engine.db.json_text import RawJson, dumps, loads_jsonb
from engine.db.outage import CONNECT_FAILURES, connection_failure
from engine.errors import DatabaseUnavailable

log = logging.getLogger("pqw.db")

T = TypeVar("T")

# A connection of our own or one borrowed from a pool: both run queries alike.
Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"


class PqwConnection(asyncpg.Connection):
    """asyncpg's connection, which can be handed back to its pool without the reset.

    The pool resets a released connection (`SELECT pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL;`): a round trip that the caller of a single insert
    awaited before getting its job back, to undo session state pqw's own statements
    never leave. Code that ran only such statements says so (stateless_connection),
    and that one release skips the query. An open transaction is still rolled back
    by asyncpg, which does that before any reset.
    """

    _skip_reset = False

    def skip_next_reset(self) -> None:
        self._skip_reset = True

    def take_skip_reset(self) -> bool:
        """Whether this release may skip the reset (asked once per release)."""
        skip, self._skip_reset = self._skip_reset, False
        return skip


@asynccontextmanager
async def stateless_connection(pool: asyncpg.Pool[Any]) -> AsyncIterator[Conn]:
    """A pool connection for statements that leave nothing on the session (no
    setting, LISTEN, cursor, advisory lock or open transaction): unless the block
    raised, it goes back to the pool without the reset round trip."""
    async with pool.acquire() as conn:
        yield conn
        # Reached only when the block raised nothing; a pool that is not pqw's own
        # has connections without this, and resets them as usual.
        skip = getattr(conn, "skip_next_reset", None)
        if skip is not None:
            skip()


def _encode_json(value: Any) -> str:
    if isinstance(value, RawJson):
        return str(value)
    return dumps(value)


def _encode_jsonb(value: Any) -> bytes:
    # jsonb's binary format is a version byte, then the JSON text.
    return b"\x01" + _encode_json(value).encode()


def _decode_jsonb(data: bytes) -> Any:
    return loads_jsonb(data)


class FloorRetries(logging.Filter):
    """asyncpg's "Failed to restore the pool connection floor", once per outage, in one line.

    A pool whose connections were cut reconnects its floor (min_size) in the
    background, logging a warning with a full traceback at every failed try (1 s,
    2 s, 4 s ... apart: 26 in one worker's log over one restart). pqw's own loops
    already say that the database is away. The first try's failure stays, as one
    line with its reason (password masked); the others are dropped until a
    connection is made again (`connected`), which ends the outage with one more line.
    """

    MESSAGE = "Failed to restore the pool connection floor"

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0  # failed tries in this outage

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.MESSAGE):
            return True
        self.failures += 1
        if self.failures > 1:
            return False
        error = record.exc_info[1] if record.exc_info else None
        reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
        record.msg = "pqw: a connection pool cannot reconnect (%s); it keeps trying"
        record.args = (mask_dsn(reason.splitlines()[0] if reason.strip() else reason),)
        record.exc_info = None
        record.exc_text = None
        return True

    def connected(self) -> None:
        if self.failures:
            log.info("pqw: a connection pool reconnected after %d failed tries", self.failures)
            self.failures = 0


FLOOR_RETRIES = FloorRetries()
logging.getLogger("asyncpg.pool").addFilter(FLOOR_RETRIES)


async def init_connection(conn: asyncpg.Connection[Any]) -> None:
    """Decode json/jsonb as Python values on every connection pqw opens.

    jsonb uses the binary format so COPY (which is binary in asyncpg) can carry it.
    """
    FLOOR_RETRIES.connected()  # a connection was made: any outage is over
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


# The only startup parameter pqw sends: every pooler passes it (libpq and psql
# send it too). Anything else is a session setting, set after connecting.
STARTUP_PARAMETERS = frozenset({"application_name"})

_warned_dropped: set[str] = set()


def _session_options(mode: PoolMode) -> dict[str, Any]:
    """asyncpg options for a URL in `mode`: in transaction mode nothing may live on a
    session, so no prepared-statement cache (statements are unnamed, parsed and run
    in one exchange) and no reset query on release (the server session it would
    reset is no longer ours)."""
    if mode == "session":
        return {}
    return {"statement_cache_size": 0}


async def _no_session_state(_conn: asyncpg.Connection[Any]) -> None:
    """Nothing to reset: a transaction-pooled connection keeps no session state."""


def _split_settings(
    server_settings: Mapping[str, str] | None, mode: PoolMode
) -> tuple[dict[str, str], dict[str, str]]:
    """(startup parameters, session settings); in transaction mode session settings
    cannot be kept, and are dropped with one warning each."""
    startup: dict[str, str] = {}
    session: dict[str, str] = {}
    for name, value in (server_settings or {}).items():
        (startup if name in STARTUP_PARAMETERS else session)[name] = value
    if mode == "transaction" and session:
        for name in sorted(set(session) - _warned_dropped):
            _warned_dropped.add(name)
            log.warning(
                "pqw: %s is a session setting, which a transaction-pooled connection cannot "
                "keep; it is not set (set it per transaction instead)",
                name,
            )
        session = {}
    return startup, session


async def apply_session_settings(conn: Conn, settings: Mapping[str, str]) -> None:
    """Set each setting for the rest of the session (values are bind parameters)."""
    if settings:
        await conn.execute(sql.SET_SESSION_SETTINGS, list(settings), list(settings.values()))


async def connect(
    dsn: str, *, timeout: float = 10.0, application_name: str = "pqw"
) -> asyncpg.Connection[Any]:
    """A single connection with pqw's codecs; DatabaseUnavailable when it cannot be made.

    A URL marked transaction-pooled gets a connection that keeps no session state.
    """
    url, mode = split_pool_mode(dsn)

    async def make() -> asyncpg.Connection[Any]:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(
            url,
            timeout=timeout,
            server_settings={"application_name": application_name},
            **_session_options(mode or "session"),
        )
        await init_connection(conn)
        return conn

    return await _guarded(url, make)


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
    DatabaseUnavailable when the first connection fails.

    Only application_name goes in the startup packet (a pooler refuses most
    others); other server_settings are set on each new session and again after
    each release's reset, or, on a transaction-pooled URL, dropped with a warning.
    Nothing is prepared on a transaction-pooled URL: with no statement cache a
    prepared statement would not be kept, and the pooler may hand the next
    statement to another server session anyway.
    """
    url, marked = split_pool_mode(dsn)
    mode: PoolMode = marked or "session"
    startup, session = _split_settings(server_settings, mode)
    prepared = prepare if mode != "transaction" else ()

    async def init(conn: asyncpg.Connection[Any]) -> None:
        await init_connection(conn)
        await apply_session_settings(conn, session)
        if prepared:
            await prepare_statements(conn, prepared)

    async def reset(conn: asyncpg.Connection[Any]) -> None:
        if isinstance(conn, PqwConnection) and conn.take_skip_reset():
            return
        query = conn.get_reset_query()
        if query:
            await conn.execute(query)
        # The default reset (RESET ALL among others) undoes our settings: set them again.
        await apply_session_settings(conn, session)

    async def make() -> asyncpg.Pool[Any]:
        pool: asyncpg.Pool[Any] = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            init=init,
            reset=_no_session_state if mode == "transaction" else reset,
            connection_class=PqwConnection,
            timeout=timeout,
            max_inactive_connection_lifetime=60.0,
            server_settings=startup or None,
            **_session_options(mode),
        )
        return pool

    return await _guarded(url, make)
