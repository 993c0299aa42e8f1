"""The pytest plugin: loaded by its entry point, a migrated database per test cloned from a
template, a bare one, our own fixtures are its fixtures under our short names, and a
session ended by SIGTERM stops its server."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from engine.db import migrate
from engine.testing import pytest_plugin
from tests.helpers import stop_embedded_server, subprocess_env, wait_for


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


# Each session (or xdist worker) running it reports its server's data folder, then
# waits until it is signalled.
INNER_TEST = """
import asyncio, os, pathlib, threading
import asyncpg

def test_waits_for_a_signal(pqw_server):
    async def data_directory():
        conn = await asyncpg.connect(pqw_server)
        try:
            return await conn.fetchval("SHOW data_directory")
        finally:
            await conn.close()
    marker = pathlib.Path({markers!r}) / str(os.getpid())
    marker.write_text(asyncio.run(data_directory()))
    threading.Event().wait()
"""


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


XDIST = ["-n", "2", "--dist", "each"]


@pytest.mark.parametrize(
    ("servers", "options", "to_group"),
    [(1, ["-p", "no:xdist"], False), (2, XDIST, False), (2, XDIST, True)],
    ids=["one-process", "xdist-controller", "xdist-process-group"],
)
async def test_a_session_ended_by_sigterm_stops_its_servers_and_removes_their_folders(
    tmp_path: Path, servers: int, options: list[str], to_group: bool
) -> None:
    """As a CI job's timeout or a user's `kill` sends it: to the one pytest process (with
    xdist, the controller, which runs no server of its own: each worker has one), or to
    the whole process group, so each worker gets it twice (the group's, its
    controller's)."""
    markers = tmp_path / "markers"
    markers.mkdir()
    (tmp_path / "test_inner.py").write_text(INNER_TEST.format(markers=str(markers)))
    session = subprocess.Popen(  # noqa: ASYNC220 - it only forks; waits are polled below
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options],
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    data_dirs: list[Path] = []
    try:

        def started() -> bool:
            return len(list(markers.iterdir())) == servers or session.poll() is not None

        await wait_for(started, timeout=90, message="the inner session's servers")
        assert session.poll() is None, (await asyncio.to_thread(session.communicate))[0]
        data_dirs = [Path(m.read_text()) for m in markers.iterdir()]
        postmasters = [_postmaster_pid(d) for d in data_dirs]
        assert all(p is not None and _alive(p) for p in postmasters), postmasters

        if to_group:
            os.killpg(session.pid, signal.SIGTERM)
        else:
            session.send_signal(signal.SIGTERM)
        output = (await asyncio.to_thread(session.communicate, timeout=60))[0]

        assert session.returncode == pytest.ExitCode.INTERRUPTED, output
        assert "KeyboardInterrupt" in output, output
        await wait_for(
            lambda: not any(p and _alive(p) for p in postmasters),
            timeout=30,
            message="the servers to stop",
        )
        await wait_for(
            lambda: not any(d.parent.exists() for d in data_dirs),
            timeout=30,
            message="their folders to go",
        )
    finally:
        if session.poll() is None:
            session.kill()
            await asyncio.to_thread(session.wait)
        for data_dir in data_dirs:  # a failed check must not leave a server behind
            stop_embedded_server(data_dir)
        await wait_for(
            lambda: not any((d / "postmaster.pid").exists() for d in data_dirs),
            timeout=30,
            message="a server left to stop",
        )
        for data_dir in data_dirs:
            shutil.rmtree(data_dir.parent, ignore_errors=True)
