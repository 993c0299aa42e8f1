"""What an outage is, how it is told to a person, and how long to wait before trying again.

Every loop that must survive the database going away (producers, the
completer, notifications, heartbeats, maintenance) asks `is_connection_error`
whether a failure is the server's fault, and waits `retry_delay` before trying
again.
"""

from __future__ import annotations

import socket

import asyncpg

from engine.db.dsn import describe_dsn, mask_dsn
from engine.errors import DatabaseUnavailable, PoolerMisconfigured

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
CONNECT_FAILURES: tuple[type[BaseException], ...] = (
    *CONNECTION_ERRORS,
    asyncpg.PostgresError,
    ValueError,
    OverflowError,  # a port beyond 65535 in a key=value DSN, refused by the socket
)

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


# What asyncpg's statement cache meets behind a transaction pooler it was not told
# about: another process's statement of the same name on the server session it
# was handed, or its own statement gone with the session it was prepared on.
_POOLER_SYMPTOMS = (asyncpg.DuplicatePreparedStatementError, asyncpg.InvalidSQLStatementNameError)
POOLER_HINT = (
    "the database URL looks transaction-pooled (PgBouncer pool_mode = transaction) "
    "and pqw was not told: set PQW_DIRECT_URL to Postgres itself, or PQW_POOL_MODE=transaction"
)


def pooler_misconfigured(exc: BaseException) -> PoolerMisconfigured | None:
    """A clear error when exc is the symptom of an undeclared transaction pooler."""
    if isinstance(exc, _POOLER_SYMPTOMS) and "__asyncpg_" in str(exc):
        return PoolerMisconfigured(f"{POOLER_HINT} ({exc})")
    return None


def connection_failure(dsn: str, exc: BaseException) -> DatabaseUnavailable:
    """One clear line: which database, what failed, the password masked."""
    reason = str(exc).strip() or type(exc).__name__
    if pooler_misconfigured(exc) is not None:
        reason = f"{reason}; {POOLER_HINT}"
    if isinstance(exc, socket.gaierror):
        reason = f"host name not found ({reason})"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused (is Postgres running and listening there?)"
    elif isinstance(exc, FileNotFoundError):
        reason = "no server socket there (is Postgres running?)"
    reason = mask_dsn(reason)
    return DatabaseUnavailable(f"cannot connect to Postgres at {describe_dsn(dsn)}: {reason}")


def retry_delay(failures: int, *, base: float = 0.1, cap: float = 5.0) -> float:
    """Seconds to wait after `failures` failures in a row: base * 2**failures, at most cap."""
    return float(min(cap, base * 2 ** min(max(failures, 0), 30)))
