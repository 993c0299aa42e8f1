"""Test harness: one embedded Postgres per session, a migrated template, a fresh database per test."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.db import migrate
from engine.db.embedded import start_server, stop_server

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

TEMPLATE_DB = "pqw_template"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_counter = itertools.count(1)

# Test-only server settings: durability is not what the tests check, speed is
# welcome, and crash tests open many connections from many processes.
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
}


def quote_ident(name: str) -> str:
    """Database names are created by the harness only; validate before quoting."""
    if not _IDENT.match(name):
        raise ValueError(f"invalid database name {name!r}")
    return f'"{name}"'


def with_database(uri: str, database: str) -> str:
    return re.sub(r"(postgresql://[^/]*/)[^?]*", rf"\g<1>{database}", uri, count=1)


async def _configure(uri: str) -> bool:
    conn = await asyncpg.connect(uri)
    try:
        changed = False
        for name, value in SERVER_SETTINGS.items():
            current = await conn.fetchval("SELECT setting FROM pg_settings WHERE name = $1", name)
            if current != value:
                # ALTER SYSTEM takes no bind parameters; both parts are constants above.
                await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed = True
        return changed
    finally:
        await conn.close()


async def _make_template(uri: str) -> None:
    conn = await asyncpg.connect(uri)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(TEMPLATE_DB)} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {quote_ident(TEMPLATE_DB)}")
    finally:
        await conn.close()
    tconn = await asyncpg.connect(with_database(uri, TEMPLATE_DB))
    try:
        await migrate.migrate_up(tconn)
    finally:
        await tconn.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URI (postgres database) of this session's own embedded server.

    Its folder is our own, not pytest's basetemp: pytest prunes old basetemps,
    which would pull the data out from under a server another session still runs.
    """
    base = Path(tempfile.mkdtemp(prefix="pqw-test-pg-"))
    data_dir = base / "data"
    server = start_server(data_dir)
    if asyncio.run(_configure(server.get_uri())):
        # max_connections needs a restart: stop the server we started, start it again.
        stop_server(data_dir)
        server = start_server(data_dir)
    uri: str = server.get_uri()
    asyncio.run(_make_template(uri))
    yield uri
    stop_server(data_dir)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def template_dsn(pg_server: str) -> str:
    return with_database(pg_server, TEMPLATE_DB)


async def _create_db(admin_uri: str, name: str, template: str) -> None:
    conn = await asyncpg.connect(admin_uri)
    try:
        await conn.execute(
            f"CREATE DATABASE {quote_ident(name)} TEMPLATE {quote_ident(template)} "
            "STRATEGY FILE_COPY"
        )
    finally:
        await conn.close()


async def _drop_db(admin_uri: str, name: str) -> None:
    conn = await asyncpg.connect(admin_uri)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture
def dsn(pg_server: str) -> Iterator[str]:
    """A fresh, migrated database for this test, cloned from the template."""
    name = f"pqw_test_{os.getpid()}_{next(_counter)}"
    asyncio.run(_create_db(pg_server, name, TEMPLATE_DB))
    yield with_database(pg_server, name)
    asyncio.run(_drop_db(pg_server, name))


@pytest.fixture
def bare_dsn(pg_server: str) -> Iterator[str]:
    """A fresh database with no pqw schema at all."""
    name = f"pqw_bare_{os.getpid()}_{next(_counter)}"
    asyncio.run(_create_db(pg_server, name, "template1"))
    yield with_database(pg_server, name)
    asyncio.run(_drop_db(pg_server, name))


@pytest.fixture
async def conn(dsn: str) -> Any:
    """A plain connection (with pqw's codecs) to the test database."""
    from engine.db.pool import connect

    c = await connect(dsn)
    yield c
    await c.close()


from tests.clients import make_client  # noqa: E402, F401  (a fixture every engine test uses)
from tests.compat import (  # noqa: E402, F401  (PostgreSQL 15 and PgBouncer fixtures)
    bouncers,
    compat_bare_dsn,
    compat_db,
    compat_dsn,
    compat_server,
    pooled,
    pooled_admin,
)
from tests.processes import admin, db, workers  # noqa: E402, F401  (crash-test fixtures)
