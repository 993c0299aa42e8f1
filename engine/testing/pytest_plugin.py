"""A pytest plugin: a migrated throwaway database per test, on an embedded Postgres.

Loaded by itself once pqw is installed (the `pytest11` entry point `pqw`; `-p no:pqw`
turns it off). Fixtures, each started only when a test asks for it:

- `pqw_server` (session): the URL of this session's own embedded PostgreSQL
  (its `postgres` database), tuned for tests (no fsync), in a temporary folder
  removed at the end;
- `pqw_template_dsn` (session): a database migrated once, the template of the next;
- `pqw_database`: the URL of a fresh database for this test, cloned from the
  template (a file copy, a fraction of a second) and dropped after it;
- `pqw_bare_database`: the same with no pqw schema at all (to test migrations).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

import asyncpg
import psutil
import pytest

from engine.db import migrate
from engine.db.embedded import start_server, stop_server

TEMPLATE_DB = "pqw_template"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_counter = itertools.count(1)

# Test-only server settings: durability is not what tests check, speed is
# welcome, and crash tests open many connections from many processes.
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
}


def quote_ident(name: str) -> str:
    """Database names are made by this plugin only; validated before they are quoted."""
    if not _IDENT.match(name):
        raise ValueError(f"invalid database name {name!r}")
    return f'"{name}"'


def with_database(uri: str, database: str) -> str:
    """The same server URL naming another database."""
    return re.sub(r"(postgresql://[^/]*/)[^?]*", rf"\g<1>{database}", uri, count=1)


async def _configure(uri: str) -> bool:
    """Apply SERVER_SETTINGS; True when one needs a restart to take effect."""
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


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"pytest was sent {signal.Signals(signum).name}")


@contextmanager
def _sigterm_ends_like_ctrl_c() -> Iterator[None]:
    """While our server runs, SIGTERM (a CI job's timeout, a plain `kill`) ends the
    session as Ctrl-C does, so teardown stops the server. Python's default dies on the
    spot, and the server outlived the session. A handler someone else set is theirs."""
    ours = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    )
    if ours:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        if ours and signal.getsignal(signal.SIGTERM) is _interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop_workers_too(signum: int, frame: FrameType | None) -> None:
    """An xdist controller's SIGTERM: its workers get it as well (each tears down and
    stops its server, see above), as a terminal's Ctrl-C reaches every one of them.
    The controller runs no test, so its children are its workers."""
    for worker in psutil.Process().children():
        with suppress(psutil.Error):
            worker.send_signal(signum)
    _interrupt(signum, frame)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # A SIGTERM'd xdist controller died at once, and its workers went down with it
    # without teardown, their servers left running.
    controller = session.config.pluginmanager.getplugin("dsession") is not None
    if (
        controller
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _stop_workers_too)


@pytest.fixture(scope="session")
def pqw_server() -> Iterator[str]:
    """The URL (postgres database) of this session's own embedded server.

    Its folder is our own, not pytest's basetemp: pytest prunes old basetemps,
    which would pull the data out from under a server another session still runs.
    """
    with _sigterm_ends_like_ctrl_c():
        yield from _embedded_server()


def _embedded_server() -> Iterator[str]:
    base = Path(tempfile.mkdtemp(prefix="pqw-test-pg-"))
    data_dir = base / "data"
    server = start_server(data_dir)
    try:
        if asyncio.run(_configure(server.get_uri())):
            # max_connections needs a restart: stop the server we started, start it again.
            stop_server(data_dir)
            server = start_server(data_dir)
        uri: str = server.get_uri()
        asyncio.run(_make_template(uri))
        yield uri
    finally:
        stop_server(data_dir)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pqw_template_dsn(pqw_server: str) -> str:
    """The migrated template every pqw_database is cloned from (do not change it)."""
    return with_database(pqw_server, TEMPLATE_DB)


def _fresh(server: str, prefix: str, template: str) -> Iterator[str]:
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    asyncio.run(_create_db(server, name, template))
    yield with_database(server, name)
    asyncio.run(_drop_db(server, name))


@pytest.fixture
def pqw_database(pqw_server: str) -> Iterator[str]:
    """A fresh, migrated database for this test, cloned from the template."""
    yield from _fresh(pqw_server, "pqw_test", TEMPLATE_DB)


@pytest.fixture
def pqw_bare_database(pqw_server: str) -> Iterator[str]:
    """A fresh database with no pqw schema at all."""
    yield from _fresh(pqw_server, "pqw_bare", "template1")
