"""Which database pqw talks to, through which URLs, and how to name them without a password.

pqw may be given two URLs: the main one (PQW_DATABASE_URL: Postgres, or a
pooler such as PgBouncer) and a direct one (PQW_DIRECT_URL: Postgres itself or
a session-mode pool) for what needs a session of its own, such as LISTEN. The
main URL's pool mode says what pqw may keep on its sessions: in `session` mode
(Postgres itself, or session pooling) anything; in `transaction` mode nothing
(no prepared-statement cache, no session settings, no LISTEN, no session locks).

The mode travels inside the main URL as pqw's own query parameter
`pool_mode=transaction`, so every function handed a URL string knows it; pqw
removes the parameter before connecting.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from engine.errors import InvalidDatabaseUrl

ENV_VARS = ("PQW_DATABASE_URL", "DATABASE_URL")
DIRECT_ENV_VAR = "PQW_DIRECT_URL"
POOL_MODE_ENV_VAR = "PQW_POOL_MODE"
# pqw's own URL parameter: never sent to the server (a pooler would refuse it).
POOL_MODE_PARAM = "pool_mode"

PoolMode = Literal["session", "transaction"]
POOL_MODES: tuple[PoolMode, ...] = ("session", "transaction")


def configured_dsn(dsn: str | None = None) -> str | None:
    """The DSN given by option, then PQW_DATABASE_URL, then DATABASE_URL; None if none."""
    if dsn:
        return dsn
    for var in ENV_VARS:
        value = os.environ.get(var)
        if value:
            return value
    return None


def configured_direct_dsn(direct_dsn: str | None = None) -> str | None:
    """The direct URL given by option, then PQW_DIRECT_URL; None if none."""
    return direct_dsn or os.environ.get(DIRECT_ENV_VAR) or None


def resolve_dsn(dsn: str | None = None) -> str:
    """A DSN to connect to: the configured one, or the embedded Postgres started on demand."""
    found = configured_dsn(dsn)
    if found is not None:
        return found
    from engine.db.embedded import embedded_dsn

    return embedded_dsn()


def check_pool_mode(value: str, source: str) -> PoolMode:
    """The pool mode named by `value`; InvalidDatabaseUrl naming `source` otherwise."""
    mode = value.strip().lower()
    if mode not in POOL_MODES:
        raise InvalidDatabaseUrl(
            f"{source} must be 'session' or 'transaction' (PgBouncer's pool_mode), got {value!r}"
        )
    return mode


def _is_url(dsn: str) -> bool:
    return dsn.startswith(("postgres://", "postgresql://"))


def check_url(dsn: str, what: str = "the database URL") -> str:
    """The URL, or InvalidDatabaseUrl (password masked) when it cannot be connected to as
    written: a port that is not a number from 1 to 65535, a malformed host."""
    if not _is_url(dsn):
        return dsn  # a libpq key=value string: the driver reads it
    try:
        parts = urlsplit(dsn)
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise InvalidDatabaseUrl(f"{what} {mask_dsn(dsn)!r} is malformed: {exc}") from exc
    hosts = parts.netloc.rpartition("@")[2]
    ports = [host.rpartition("]")[2].partition(":")[2] for host in hosts.split(",")]
    ports += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "port"]
    for port in ports:
        for one in port.split(",") if port else ():
            if not (one.isdigit() and 1 <= int(one) <= 65535):
                raise InvalidDatabaseUrl(
                    f"{what} {mask_dsn(dsn)!r} has port {one!r}: a port is a number "
                    "from 1 to 65535 (Postgres listens on 5432 unless told otherwise)"
                )
    return dsn


def split_pool_mode(dsn: str) -> tuple[str, PoolMode | None]:
    """The URL without pqw's pool_mode parameter, and the mode it named (None if none)."""
    if not _is_url(dsn):
        return dsn, None
    parts = urlsplit(dsn)
    params = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in params if k != POOL_MODE_PARAM]
    if len(kept) == len(params):
        return dsn, None
    given = [v for k, v in params if k == POOL_MODE_PARAM][-1]
    mode = check_pool_mode(given, f"the URL parameter {POOL_MODE_PARAM}")
    return urlunsplit(parts._replace(query=urlencode(kept))), mode


def pool_mode_of(dsn: str) -> PoolMode:
    """The pool mode a URL is marked with; session when unmarked."""
    return split_pool_mode(dsn)[1] or "session"


def with_pool_mode(dsn: str, mode: PoolMode) -> str:
    """The URL marked with `mode` (session, the default, leaves it unmarked)."""
    bare, _ = split_pool_mode(dsn)
    if mode == "session":
        return bare
    if not _is_url(bare):
        raise InvalidDatabaseUrl(
            f"transaction pooling needs a postgresql:// URL, not {mask_dsn(bare)!r}"
        )
    parts = urlsplit(bare)
    params = [*parse_qsl(parts.query, keep_blank_values=True), (POOL_MODE_PARAM, mode)]
    return urlunsplit(parts._replace(query=urlencode(params)))


@dataclass(frozen=True)
class Database:
    """Where pqw connects: the main URL (marked with its pool mode) and the direct URL."""

    url: str
    direct_url: str | None = None

    @property
    def pool_mode(self) -> PoolMode:
        return pool_mode_of(self.url)

    @property
    def session_url(self) -> str | None:
        """A URL whose connections are sessions of their own (for LISTEN); None if neither is."""
        if self.direct_url is not None:
            return self.direct_url
        return self.url if self.pool_mode == "session" else None

    @property
    def migration_url(self) -> str:
        """Where schema changes go: Postgres itself when pqw knows it."""
        return self.direct_url or self.url

    def describe(self) -> str:
        """user@host:port/db, with the pool mode and the direct URL when there is one."""
        text = describe_dsn(self.url)
        if self.pool_mode == "transaction":
            text += " (transaction pooling)"
        if self.direct_url is not None:
            text += f", direct {describe_dsn(self.direct_url)}"
        return text


def resolve_database(
    dsn: str | None = None, direct_dsn: str | None = None, pool_mode: str | None = None
) -> Database:
    """The main and direct URLs from options, then the environment, then the embedded server.

    The main URL's pool mode is, first found: the `pool_mode` argument, the URL's own
    pool_mode parameter, PQW_POOL_MODE; else `transaction` when a direct URL is given
    (the reason to give one), `session` when not.
    """
    main, marked = split_pool_mode(check_url(resolve_dsn(dsn)))
    direct = configured_direct_dsn(direct_dsn)
    if direct is not None:
        direct, direct_mode = split_pool_mode(check_url(direct, "the direct URL"))
        if direct_mode == "transaction":
            raise InvalidDatabaseUrl(
                f"the direct URL ({describe_dsn(direct)}) must be Postgres itself or a "
                "session-mode pool, not a transaction pool"
            )
    env_mode = os.environ.get(POOL_MODE_ENV_VAR)
    if pool_mode:
        mode = check_pool_mode(pool_mode, "pool_mode")
    elif marked is not None:
        mode = marked
    elif env_mode:
        mode = check_pool_mode(env_mode, POOL_MODE_ENV_VAR)
    else:
        mode = "transaction" if direct is not None else "session"
    return Database(with_pool_mode(main, mode), direct)


_PASSWORD_IN_URL = re.compile(r"(?P<pre>://[^/@:]*:)(?P<pw>[^@/]*)(?P<post>@)")
_PASSWORD_PARAM = re.compile(r"(?P<pre>password=)(?P<pw>[^&\s]+)", re.IGNORECASE)


def mask_dsn(dsn: str) -> str:
    """The DSN with any password replaced by ***."""
    masked = _PASSWORD_IN_URL.sub(lambda m: m["pre"] + ("***" if m["pw"] else "") + m["post"], dsn)
    return _PASSWORD_PARAM.sub(lambda m: m["pre"] + "***", masked)


def describe_dsn(dsn: str) -> str:
    """A short name for the database: user@host:port/db (or the socket folder), no password."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return mask_dsn(dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        return mask_dsn(dsn)
    query = dict(parse_qsl(parts.query))
    host = parts.hostname or query.get("host", "") or "localhost"
    # As written, even when it is no port at all: the name must be the one the user gave.
    given = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
    port = given or query.get("port", "") or "5432"
    user = unquote(parts.username) if parts.username else ""
    db = unquote(parts.path.lstrip("/")) or user or "postgres"
    where = f"{host}:{port}" if not host.startswith("/") else host
    return f"{user + '@' if user else ''}{where}/{db}"
