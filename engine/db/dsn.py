"""Which database pqw talks to, and how to name it without showing a password."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, unquote, urlsplit

ENV_VARS = ("PQW_DATABASE_URL", "DATABASE_URL")


def configured_dsn(dsn: str | None = None) -> str | None:
    """The DSN given by option, then PQW_DATABASE_URL, then DATABASE_URL; None if none."""
    if dsn:
        return dsn
    for var in ENV_VARS:
        value = os.environ.get(var)
        if value:
            return value
    return None


def resolve_dsn(dsn: str | None = None) -> str:
    """A DSN to connect to: the configured one, or the embedded Postgres started on demand."""
    found = configured_dsn(dsn)
    if found is not None:
        return found
    from engine.db.embedded import embedded_dsn

    return embedded_dsn()


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
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host", [""])[0]) or "localhost"
    try:
        port = parts.port or int(query.get("port", ["5432"])[0])
    except ValueError:
        port = 5432
    user = unquote(parts.username) if parts.username else ""
    db = unquote(parts.path.lstrip("/")) or user or "postgres"
    where = f"{host}:{port}" if not host.startswith("/") else host
    return f"{user + '@' if user else ''}{where}/{db}"
