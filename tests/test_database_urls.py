"""Which URLs pqw uses, in which pool mode, from options, the URL and the environment."""

from __future__ import annotations

import pytest

from engine import InvalidDatabaseUrl
from engine.db.dsn import (
    Database,
    pool_mode_of,
    resolve_database,
    split_pool_mode,
    with_pool_mode,
)

POOLER = "postgresql://app:hunter2@bouncer:6432/app?sslmode=disable"
DIRECT = "postgresql://app:hunter2@db:5432/app"


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PQW_DATABASE_URL", "DATABASE_URL", "PQW_DIRECT_URL", "PQW_POOL_MODE"):
        monkeypatch.delenv(var, raising=False)


def test_one_url_is_session_mode() -> None:
    database = resolve_database(POOLER)
    assert database.pool_mode == "session" and database.session_url == POOLER
    assert database.url == POOLER and database.migration_url == POOLER


def test_a_direct_url_makes_the_main_one_transaction_pooled() -> None:
    database = resolve_database(POOLER, DIRECT)
    assert database.pool_mode == "transaction"
    assert database.session_url == DIRECT and database.migration_url == DIRECT


def test_transaction_mode_without_a_direct_url_has_no_session_url() -> None:
    database = resolve_database(POOLER, pool_mode="transaction")
    assert database.session_url is None and database.migration_url == database.url


def test_precedence_option_then_url_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PQW_POOL_MODE", "transaction")
    assert resolve_database(POOLER).pool_mode == "transaction"
    marked = POOLER + "&pool_mode=session"
    assert resolve_database(marked).pool_mode == "session"
    assert resolve_database(marked, pool_mode="Transaction").pool_mode == "transaction"
    monkeypatch.setenv("PQW_POOL_MODE", "session")
    assert resolve_database(POOLER, DIRECT).pool_mode == "session"


def test_urls_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PQW_DATABASE_URL", POOLER)
    monkeypatch.setenv("PQW_DIRECT_URL", DIRECT)
    assert resolve_database() == Database(with_pool_mode(POOLER, "transaction"), DIRECT)


def test_the_mode_parameter_is_never_sent_to_the_server() -> None:
    marked = with_pool_mode(POOLER, "transaction")
    assert pool_mode_of(marked) == "transaction" and "pool_mode=transaction" in marked
    bare, mode = split_pool_mode(marked)
    assert (bare, mode) == (POOLER, "transaction")
    assert with_pool_mode(marked, "session") == POOLER


def test_bad_modes_and_a_pooled_direct_url_are_refused_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(InvalidDatabaseUrl, match="'session' or 'transaction'"):
        resolve_database(POOLER, pool_mode="statement")
    monkeypatch.setenv("PQW_POOL_MODE", "bogus")
    with pytest.raises(InvalidDatabaseUrl, match="PQW_POOL_MODE"):
        resolve_database(POOLER)
    with pytest.raises(InvalidDatabaseUrl, match="session-mode pool") as refused:
        resolve_database(POOLER, DIRECT + "?pool_mode=transaction")
    assert "hunter2" not in str(refused.value)


def test_the_description_names_both_without_passwords() -> None:
    described = resolve_database(POOLER, DIRECT).describe()
    assert described == "app@bouncer:6432/app (transaction pooling), direct app@db:5432/app"


async def test_session_settings_are_set_after_connecting_and_kept_across_releases(
    dsn: str,
) -> None:
    from engine.db.pool import create_pool

    pool = await create_pool(
        dsn,
        max_size=1,
        server_settings={
            "application_name": "pqw t",
            "idle_in_transaction_session_timeout": "4321",
        },
    )
    try:
        for _ in range(3):  # each release resets the session (RESET ALL), then sets it again
            async with pool.acquire() as conn:
                assert await conn.fetchval("SHOW idle_in_transaction_session_timeout") == "4321ms"
                assert await conn.fetchval("SHOW application_name") == "pqw t"
                await conn.execute("SET lock_timeout = '1s'")  # a user's change is reset
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW lock_timeout") == "0"
    finally:
        await pool.close()


async def test_a_transaction_pooled_pool_keeps_no_session_settings(
    dsn: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.db import pool as pool_module
    from engine.db.pool import create_pool

    monkeypatch.setattr(pool_module, "_warned_dropped", set())  # warned once per process

    pool = await create_pool(
        with_pool_mode(dsn, "transaction"),
        max_size=1,
        server_settings={
            "application_name": "pqw t",
            "idle_in_transaction_session_timeout": "4321",
        },
    )
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW idle_in_transaction_session_timeout") == "0"
            assert await conn.fetchval("SHOW application_name") == "pqw t"
            assert conn._stmt_cache.get_max_size() == 0  # no prepared-statement cache
    finally:
        await pool.close()
    warned = [r.getMessage() for r in caplog.records if "cannot keep" in r.getMessage()]
    assert len(warned) == 1 and "idle_in_transaction_session_timeout" in warned[0]
