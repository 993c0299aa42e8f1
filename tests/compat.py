"""Fixtures for the compatibility tests: a Debian PostgreSQL (15 unless PQW_COMPAT_PG_BIN
says otherwise), PgBouncers in front of it in both pool modes, and a fresh migrated
database per test, reached directly (`compat_dsn`) or through a pooler (`pooled`)."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from engine.admin import Admin
from engine.db import migrate
from engine.db.dsn import with_pool_mode
from tests.servers import PgBouncer, Postgres, pg_bin, pgbouncer_bin

TEMPLATE = "pqw_template"
_counter = itertools.count(1)


@dataclass
class CompatServer:
    postgres: Postgres
    version_num: int

    def url(self, database: str = "postgres") -> str:
        return self.postgres.url(database)


async def _make_template(server: Postgres) -> int:
    conn = await asyncpg.connect(server.url())
    try:
        version: int = int(await conn.fetchval("SHOW server_version_num"))
        await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await conn.close()
    tconn = await asyncpg.connect(server.url(TEMPLATE))
    try:
        await migrate.migrate_up(tconn)
    finally:
        await tconn.close()
    return version


@pytest.fixture(scope="session")
def compat_server() -> Iterator[CompatServer]:
    """This session's own Debian PostgreSQL with a migrated template database."""
    server = Postgres.start(pg_bin())
    try:
        version = asyncio.run(_make_template(server))
        yield CompatServer(server, version)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bouncers(compat_server: CompatServer) -> Iterator[dict[str, PgBouncer]]:
    """A PgBouncer per pool mode in front of the compat server."""
    binary = pgbouncer_bin()
    started: dict[str, PgBouncer] = {}
    try:
        # Session pooling gives each client connection a server session for as long
        # as it lives, so its pool must hold them all; transaction pooling shares a
        # few, as it does in production.
        for mode, size in (("session", 60), ("transaction", 4)):
            started[mode] = PgBouncer.start(binary, compat_server.postgres, mode, size)
        yield started
    finally:
        for bouncer in started.values():
            bouncer.stop()


async def _create(server: CompatServer, name: str, template: str) -> None:
    # STRATEGY is 15+; FILE_COPY is the quick one for a small template.
    strategy = " STRATEGY FILE_COPY" if server.version_num >= 150000 else ""
    conn = await asyncpg.connect(server.url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
    finally:
        await conn.close()


async def _drop(server: CompatServer, name: str) -> None:
    conn = await asyncpg.connect(server.url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _database(server: CompatServer, prefix: str, template: str) -> Iterator[str]:
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    asyncio.run(_create(server, name, template))
    yield name
    asyncio.run(_drop(server, name))


@pytest.fixture
def compat_db(compat_server: CompatServer) -> Iterator[str]:
    """The name of a fresh migrated database on the compat server."""
    yield from _database(compat_server, "pqw_compat", TEMPLATE)


@pytest.fixture
def compat_dsn(compat_server: CompatServer, compat_db: str) -> str:
    """A direct URL to a fresh migrated database on the compat server."""
    return compat_server.url(compat_db)


@pytest.fixture
def compat_bare_dsn(compat_server: CompatServer) -> Iterator[str]:
    """A direct URL to a fresh database without pqw's schema."""
    for name in _database(compat_server, "pqw_compat_bare", "template1"):
        yield compat_server.url(name)


@dataclass(frozen=True)
class Pooled:
    """A test database behind a pooler, and the URLs a user gives pqw in that mode:
    session mode one URL; transaction mode the pooler and, beside it, Postgres itself."""

    mode: str
    url: str  # the pooler, as the user writes it
    direct: str | None  # Postgres itself (transaction mode only)
    bouncer: PgBouncer

    @property
    def options(self) -> dict[str, str | None]:
        """Keyword arguments for Client and Admin.connect (a direct URL implies the
        main one is transaction-pooled)."""
        return {"direct_dsn": self.direct} if self.direct else {}

    @property
    def marked_url(self) -> str:
        """The pooler URL carrying its pool mode, for engine.db.pool.connect."""
        return with_pool_mode(self.url, "transaction") if self.mode == "transaction" else self.url


def pooled_for(
    bouncers: dict[str, PgBouncer], server: CompatServer, db: str, mode: str, direct: bool = True
) -> Pooled:
    direct_url = server.url(db) if direct and mode == "transaction" else None
    return Pooled(mode, bouncers[mode].url(db), direct_url, bouncers[mode])


@pytest.fixture(params=["session", "transaction"])
def pooled(
    request: pytest.FixtureRequest,
    bouncers: dict[str, PgBouncer],
    compat_server: CompatServer,
    compat_db: str,
) -> Pooled:
    """A fresh database through PgBouncer: session mode with one URL, transaction mode
    with the direct URL beside it."""
    return pooled_for(bouncers, compat_server, compat_db, request.param)


@pytest.fixture
async def pooled_admin(pooled: Pooled) -> AsyncIterator[Admin]:
    """The dashboard's Admin, through the pooler."""
    admin = await Admin.connect(pooled.url, **pooled.options)
    yield admin
    await admin.close()
