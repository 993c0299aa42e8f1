"""The pytest plugin: loaded by its entry point, a migrated database per test cloned from a
template, a bare one, and our own fixtures are its fixtures under our short names."""

from __future__ import annotations

import asyncpg
import pytest

from engine.db import migrate
from engine.testing import pytest_plugin


def test_the_plugin_is_loaded_by_its_entry_point(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.get_plugin("pqw") is pytest_plugin


async def test_a_fresh_migrated_database_per_test_and_a_bare_one(
    pqw_database: str, pqw_bare_database: str, pqw_template_dsn: str, dsn: str, bare_dsn: str
) -> None:
    assert dsn == pqw_database and bare_dsn == pqw_bare_database  # our names for the same
    assert len({pqw_database, pqw_bare_database, pqw_template_dsn}) == 3
    migrated = await asyncpg.connect(pqw_database)
    bare = await asyncpg.connect(pqw_bare_database)
    try:
        assert max(await migrate.applied_versions(migrated)) == migrate.latest_version()
        await migrated.execute("CREATE TABLE mine (id int)")  # this test's own to change
        tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        assert await bare.fetchval(tables) == 0
    finally:
        await migrated.close()
        await bare.close()


async def test_the_next_test_gets_a_clean_copy_of_the_template(pqw_database: str) -> None:
    conn = await asyncpg.connect(pqw_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('mine')") is None
        assert await conn.fetchval("SELECT count(*) FROM pqw_job") == 0
    finally:
        await conn.close()


def test_database_names_are_validated_before_they_are_quoted() -> None:
    assert pytest_plugin.quote_ident("pqw_test_1") == '"pqw_test_1"'
    with pytest.raises(ValueError, match="invalid database name"):
        pytest_plugin.quote_ident('x"; DROP DATABASE postgres; --')
    assert (
        pytest_plugin.with_database("postgresql://u@h:5/postgres?sslmode=off", "other")
        == "postgresql://u@h:5/other?sslmode=off"
    )
