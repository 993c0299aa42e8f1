"""pqw behind PgBouncer (Debian's, in front of Debian's PostgreSQL 15), in both pool modes.

Session pooling is given one URL; transaction pooling the pooler and the direct
URL beside it, and, on its own, polls. Without pgbouncer installed these tests
skip locally and fail in CI (PQW_REQUIRE_COMPAT=1).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from engine import Client, DatabaseUnavailable
from engine.admin import Admin, check_reachable
from engine.db import migrate
from engine.db.dsn import resolve_database, with_pool_mode
from engine.db.pool import connect
from tests import scenarios
from tests.clients import clients_on
from tests.compat import CompatServer, Pooled, pooled_for
from tests.helpers import run_pqw, subprocess_env
from tests.servers import PASSWORD, PgBouncer

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def make(pooled: Pooled) -> AsyncIterator[Callable[..., Client]]:
    async with clients_on(pooled.url, **pooled.options) as factory:
        yield factory


async def test_inserts(make: Callable[..., Client], pooled_admin: Admin, pooled: Pooled) -> None:
    await scenarios.inserts(make, pooled_admin, pooled.marked_url)


async def test_a_worker_drains_the_queue(make: Callable[..., Client], pooled_admin: Admin) -> None:
    await scenarios.drain(make, pooled_admin)


async def test_a_persistent_worker_is_stopped_started_and_reconfigured(
    make: Callable[..., Client], pooled_admin: Admin
) -> None:
    await scenarios.persistent_control(make, pooled_admin)


async def test_the_leader_is_elected(make: Callable[..., Client], pooled_admin: Admin) -> None:
    await scenarios.leader_elected(make, pooled_admin)


async def test_the_dashboard_reads(make: Callable[..., Client], pooled_admin: Admin) -> None:
    await scenarios.dashboard_reads(make, pooled_admin)


async def test_periodic_jobs_run(make: Callable[..., Client], pooled_admin: Admin) -> None:
    await scenarios.periodic(make, pooled_admin)


# -- Transaction pooling with no direct URL: it polls, and says so once --


@pytest.fixture
def polling(bouncers: dict[str, PgBouncer], compat_server: CompatServer, compat_db: str) -> Pooled:
    return pooled_for(bouncers, compat_server, compat_db, "transaction", direct=False)


@pytest.fixture
async def make_polling(polling: Pooled) -> AsyncIterator[Callable[..., Client]]:
    async with clients_on(polling.url, pool_mode="transaction") as factory:
        yield factory


@pytest.fixture
async def polling_admin(polling: Pooled) -> AsyncIterator[Admin]:
    admin = await Admin.connect(polling.url, pool_mode="transaction")
    yield admin
    await admin.close()


async def test_transaction_pooling_without_a_direct_url_polls_and_says_so_once(
    make_polling: Callable[..., Client], polling_admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pqw")
    await scenarios.drain(make_polling, polling_admin)
    said = [r.getMessage() for r in caplog.records if "no LISTEN" in r.getMessage()]
    assert len(said) == 1, said
    assert "polling every 0.2s" in said[0] and "PQW_DIRECT_URL" in said[0]


async def test_without_a_direct_url_operator_changes_arrive_with_the_heartbeat(
    make_polling: Callable[..., Client], polling_admin: Admin
) -> None:
    await scenarios.persistent_control(make_polling, polling_admin)


# -- Regressions: each failure seen behind PgBouncer --


@pytest.fixture
def session_pooled(
    bouncers: dict[str, PgBouncer], compat_server: CompatServer, compat_db: str
) -> Pooled:
    return pooled_for(bouncers, compat_server, compat_db, "session")


async def test_session_pooler_refused_startup_parameter_idle_in_transaction_session_timeout(
    session_pooled: Pooled,
) -> None:
    """Client.start() was refused: "unsupported startup parameter:
    idle_in_transaction_session_timeout" (the leader pool sent it at connect)."""
    admin = await Admin.connect(session_pooled.url)
    try:
        async with clients_on(session_pooled.url) as make:
            await scenarios.leader_elected(make, admin)
    finally:
        await admin.close()
    assert "unsupported startup parameter" not in session_pooled.bouncer.log()


@pytest.fixture
def transaction_pooled(
    bouncers: dict[str, PgBouncer], compat_server: CompatServer, compat_db: str
) -> Pooled:
    return pooled_for(bouncers, compat_server, compat_db, "transaction")


INSERT_ONCE = """
import asyncio
from engine import Client

async def main():
    client = Client(auto_migrate=False)
    first = await client.insert("hello", {"n": 1})
    more = await client.insert_many([("hello", {"n": 2}), ("hello", {"n": 3})])
    print(first.job.id, *(r.job.id for r in more))
    await client.close()

asyncio.run(main())
"""


def insert_in_new_processes(env: dict[str, str], times: int = 3) -> list[Any]:
    """Run INSERT_ONCE in `times` fresh processes, one after the other."""
    import subprocess
    import sys

    return [
        subprocess.run(
            [sys.executable, "-c", INSERT_ONCE], env=env, capture_output=True, text=True, timeout=60
        )
        for _ in range(times)
    ]


def test_transaction_pooler_duplicate_prepared_statement_on_first_insert(
    transaction_pooled: Pooled,
) -> None:
    """The first insert failed with asyncpg's DuplicatePreparedStatementError: asyncpg
    names its cached statements by a per-process counter, so a second process met the
    first one's __asyncpg_stmt_1__ on the server session PgBouncer gave it."""
    env = subprocess_env(
        PQW_DATABASE_URL=transaction_pooled.url,
        PQW_DIRECT_URL=str(transaction_pooled.direct),
        PQW_POOL_MODE="",
    )
    ids: list[str] = []
    for done in insert_in_new_processes(env):
        assert done.returncode == 0, done.stderr[-3000:]
        ids += done.stdout.split()
    assert len(ids) == 9 and len(set(ids)) == 9


def test_an_undeclared_transaction_pooler_is_named_in_the_error(
    transaction_pooled: Pooled,
) -> None:
    """Told nothing, pqw cannot know it is behind a transaction pooler; the error that
    follows says what to set instead of asyncpg's prepared-statement message alone."""
    env = subprocess_env(
        PQW_DATABASE_URL=transaction_pooled.url, PQW_DIRECT_URL="", PQW_POOL_MODE=""
    )
    failed = [d for d in insert_in_new_processes(env) if d.returncode != 0]
    assert failed, "a later process should have met an earlier one's statements"
    for done in failed:
        assert "PQW_POOL_MODE=transaction" in done.stderr, done.stderr[-3000:]
        assert PASSWORD not in done.stderr


class LockThenLoseTheSession:
    """A connection through the pooler that, right after any advisory lock is taken,
    lets another client take the server session it ran on, as a busy pooler does."""

    def __init__(self, conn: asyncpg.Connection[Any], other: asyncpg.Connection[Any]) -> None:
        self._conn = conn
        self._other = other
        self._held: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def execute(self, query: str, *args: Any) -> str:
        result: str = await self._conn.execute(query, *args)
        if "pg_advisory" in query and "unlock" not in query and self._held is None:
            self._held = self._other.transaction()
            await self._held.start()
            await self._other.execute("SELECT 1")
        return result

    async def release(self) -> None:
        if self._held is not None:
            await self._held.rollback()


async def test_migrating_through_a_transaction_pooler_left_the_advisory_lock_held(
    bouncers: dict[str, PgBouncer], compat_server: CompatServer, compat_bare_dsn: str
) -> None:
    """pg_advisory_lock and its unlock ran on different server sessions: the lock stayed
    on one, and the next migration to land there waited for ever."""
    name = compat_bare_dsn.rsplit("/", 1)[1]
    url = with_pool_mode(bouncers["transaction"].url(name), "transaction")
    conn, other = await connect(url), await connect(url)
    try:
        racing = LockThenLoseTheSession(conn, other)
        applied = await migrate.migrate_up(racing)  # type: ignore[arg-type]
        await racing.release()
        assert [m.version for m in applied] == [m.version for m in migrate.load_migrations()]
    finally:
        await conn.close()
        await other.close()
    direct = await asyncpg.connect(compat_bare_dsn)
    try:
        held = await direct.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert held == 0
    finally:
        await direct.close()


# -- Entry points and passwords --


def test_the_cli_takes_the_direct_url_and_the_pool_mode(transaction_pooled: Pooled) -> None:
    done = run_pqw(
        "migrate", "status", "--dsn", transaction_pooled.url, "--pool-mode", "transaction"
    )
    assert done.returncode == 0, done.stderr
    assert "applied" in done.stdout and PASSWORD not in done.stdout + done.stderr
    done = run_pqw(
        "persistent",
        "list",
        "--dsn",
        transaction_pooled.url,
        "--direct-dsn",
        str(transaction_pooled.direct),
    )
    assert done.returncode == 0, done.stderr
    assert "no persistent workers" in done.stdout


async def test_neither_password_is_shown(
    transaction_pooled: Pooled, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pqw")
    assert transaction_pooled.direct is not None
    # Port 1 on loopback: nothing listens there.
    unreachable = re.sub(r"@127\.0\.0\.1:\d+/", "@127.0.0.1:1/", transaction_pooled.direct)
    with pytest.raises(DatabaseUnavailable) as failed:
        await check_reachable(transaction_pooled.url, unreachable)
    assert PASSWORD not in str(failed.value) and "127.0.0.1" in str(failed.value)
    database = resolve_database(transaction_pooled.url, transaction_pooled.direct)
    assert PASSWORD not in database.describe() and "direct" in database.describe()
    admin = await Admin.connect(transaction_pooled.url, direct_dsn=transaction_pooled.direct)
    try:
        assert PASSWORD not in admin.database
        async with clients_on(transaction_pooled.url, **transaction_pooled.options) as make:
            await scenarios.leader_elected(make, admin)
    finally:
        await admin.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "started on" in logged and PASSWORD not in logged
    done = run_pqw(
        "migrate", "status", "--dsn", transaction_pooled.url, "--direct-dsn", unreachable
    )
    assert done.returncode == 1 and PASSWORD not in done.stdout + done.stderr
