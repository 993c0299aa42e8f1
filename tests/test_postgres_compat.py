"""pqw on an older PostgreSQL: Debian's 15 by default (PQW_COMPAT_PG_BIN=/path/to/bin for
another major, 14 to 18), beside the embedded 18 every other module uses.

Without the server installed these tests skip locally and fail in CI
(PQW_REQUIRE_COMPAT=1).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from engine import Client
from engine.admin import Admin
from engine.db import migrate
from tests import scenarios
from tests.clients import clients_on
from tests.compat import CompatServer

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def make(compat_dsn: str) -> AsyncIterator[Callable[..., Client]]:
    async with clients_on(compat_dsn) as factory:
        yield factory


@pytest.fixture
async def compat_admin(compat_dsn: str) -> AsyncIterator[Admin]:
    admin = await Admin.connect(compat_dsn)
    yield admin
    await admin.close()


def test_the_server_is_a_supported_major(compat_server: CompatServer) -> None:
    major = compat_server.version_num // 10000
    assert 14 <= major <= 18
    expected = os.environ.get("PQW_COMPAT_PG_MAJOR")
    if expected:
        assert major == int(expected)


async def test_migrations_up_and_down(compat_bare_dsn: str) -> None:
    known = [m.version for m in migrate.load_migrations()]
    conn = await asyncpg.connect(compat_bare_dsn)
    try:
        assert [m.version for m in await migrate.migrate_up(conn)] == known
        await migrate.check_schema(conn)
        assert [m.version for m in await migrate.migrate_down(conn)] == known[::-1]
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'pqw\\_%' "
            "AND tablename <> 'pqw_migration'"
        )
        types = await conn.fetchval("SELECT count(*) FROM pg_type WHERE typname = 'pqw_job_state'")
        assert (left, types) == (0, 0)
        assert [m.version for m in await migrate.migrate_up(conn)] == known
        assert await migrate.migrate_up(conn) == []
    finally:
        await conn.close()


async def test_inserts(make: Callable[..., Client], compat_admin: Admin, compat_dsn: str) -> None:
    await scenarios.inserts(make, compat_admin, compat_dsn)


async def test_the_queue_is_drained(make: Callable[..., Client], compat_admin: Admin) -> None:
    await scenarios.drain(make, compat_admin)


async def test_a_persistent_worker(make: Callable[..., Client], compat_admin: Admin) -> None:
    await scenarios.persistent_control(make, compat_admin)


async def test_periodic_jobs(make: Callable[..., Client], compat_admin: Admin) -> None:
    await scenarios.periodic(make, compat_admin)


async def test_the_leader(make: Callable[..., Client], compat_admin: Admin) -> None:
    await scenarios.leader_elected(make, compat_admin)


async def test_admin_reads(make: Callable[..., Client], compat_admin: Admin) -> None:
    await scenarios.dashboard_reads(make, compat_admin)
