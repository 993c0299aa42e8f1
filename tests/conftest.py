"""Test harness: one embedded Postgres per session, a migrated template, a fresh database per
test. The mechanism is pqw's own pytest plugin (engine/testing/pytest_plugin.py, loaded
by its `pytest11` entry point), the same a user's suite gets; here its fixtures get the
short names our tests use."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(scope="session")
def pg_server(pqw_server: str) -> str:
    """The URI (postgres database) of this session's own embedded server."""
    return pqw_server


@pytest.fixture(scope="session")
def template_dsn(pqw_template_dsn: str) -> str:
    return pqw_template_dsn


@pytest.fixture
def dsn(pqw_database: str) -> str:
    """A fresh, migrated database for this test, cloned from the template."""
    return pqw_database


@pytest.fixture
def bare_dsn(pqw_bare_database: str) -> str:
    """A fresh database with no pqw schema at all."""
    return pqw_bare_database


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
