"""Foundation: migrations, constraints, the embedded server, clear errors for bad DSNs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from engine.db import migrate
from engine.db.dsn import describe_dsn, mask_dsn
from engine.db.pool import connect
from engine.errors import SchemaError
from tests.helpers import ROOT, run_pqw, stop_embedded_server, subprocess_env

TABLES = {
    "pqw_job",
    "pqw_queue",
    "pqw_leader",
    "pqw_client",
    "pqw_persistent_worker",
    "pqw_persistent_state",
    "pqw_persistent_run",
    "pqw_persistent_log",
    "pqw_persistent_config",
    "pqw_periodic_job",
    "pqw_throughput",
    "pqw_job_count",
    "pqw_job_count_delta",
    "pqw_queue_outcome",
}


async def pqw_tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'pqw%'"
    )
    return {r["tablename"] for r in rows} - {"pqw_migration"}


async def test_migrate_up_down_up_round_trips(bare_dsn: str) -> None:
    conn = await connect(bare_dsn)
    try:
        assert await pqw_tables(conn) == set()
        applied = await migrate.migrate_up(conn)
        assert [m.version for m in applied] == [m.version for m in migrate.load_migrations()]
        assert await pqw_tables(conn) == TABLES
        assert await migrate.migrate_up(conn) == []  # a second up is a no-op

        reverted = await migrate.migrate_down(conn)
        assert [m.version for m in reverted] == [m.version for m in reversed(applied)]
        assert await pqw_tables(conn) == set()
        assert (
            await conn.fetchval("SELECT count(*) FROM pg_type WHERE typname = 'pqw_job_state'") == 0
        )

        await migrate.migrate_up(conn)
        assert await pqw_tables(conn) == TABLES
        await migrate.check_schema(conn)
    finally:
        await conn.close()


async def test_migrate_target_and_status(bare_dsn: str) -> None:
    conn = await connect(bare_dsn)
    try:
        with pytest.raises(SchemaError, match="no pqw schema"):
            await migrate.check_schema(conn)
        await migrate.migrate_up(conn, target=1)
        rows = await migrate.status(conn)
        assert rows[0].version == 1 and rows[0].applied_at is not None
        assert all(r.applied_at is None for r in rows[1:])
        with pytest.raises(SchemaError, match="no migration with version 999"):
            await migrate.migrate_up(conn, target=999)
    finally:
        await conn.close()


def test_cli_migrate_output(bare_dsn: str) -> None:
    first = run_pqw("migrate", "up", "--dsn", bare_dsn)
    assert first.returncode == 0, first.stderr
    assert "applied 001_initial" in first.stdout
    second = run_pqw("migrate", "up", "--dsn", bare_dsn)
    assert second.returncode == 0
    assert "already up to date" in second.stdout
    status = run_pqw("migrate", "status", "--dsn", bare_dsn)
    assert "001_initial" in status.stdout and "applied 20" in status.stdout


def test_concurrent_migrate_up_from_two_processes(bare_dsn: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "migrate", "up", "--dsn", bare_dsn],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(),
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    applied_lines = sum(out.count("applied 001_initial") for out, _ in outputs)
    assert applied_lines == 1, outputs

    async def check() -> None:
        conn = await connect(bare_dsn)
        try:
            versions = await conn.fetch("SELECT version FROM pqw_migration")
            assert [r["version"] for r in versions] == [
                m.version for m in migrate.load_migrations()
            ]
            assert await pqw_tables(conn) == TABLES
        finally:
            await conn.close()

    asyncio.run(check())


async def test_newer_schema_is_refused(conn: asyncpg.Connection) -> None:
    await conn.execute("INSERT INTO pqw_migration (version, name) VALUES (999, 'future')")
    with pytest.raises(SchemaError, match="version 999, newer than this pqw knows"):
        await migrate.check_schema(conn)
    with pytest.raises(SchemaError, match="newer"):
        await migrate.migrate_up(conn)


INSERT = "INSERT INTO pqw_job (kind, queue, max_attempts, priority) VALUES ($1, $2, $3, $4)"


async def test_constraints_reject_bad_rows(conn: asyncpg.Connection) -> None:
    await conn.execute(INSERT, "ok.kind", "default", 5, 1)
    with pytest.raises(asyncpg.CheckViolationError, match="max_attempts_positive"):
        await conn.execute(INSERT, "k", "default", 0, 1)
    with pytest.raises(asyncpg.NumericValueOutOfRangeError, match="smallint"):
        await conn.execute("INSERT INTO pqw_job (kind, max_attempts) VALUES ('k', 40000)")
    with pytest.raises(asyncpg.CheckViolationError, match="priority_range"):
        await conn.execute(INSERT, "k", "default", 1, 10)
    with pytest.raises(asyncpg.CheckViolationError, match="kind_length"):
        await conn.execute(INSERT, "", "default", 1, 1)
    with pytest.raises(asyncpg.CheckViolationError, match="kind_length"):
        await conn.execute(INSERT, "k" * 129, "default", 1, 1)
    with pytest.raises(asyncpg.CheckViolationError, match="queue_chars"):
        await conn.execute(INSERT, "k", "bad queue", 1, 1)
    with pytest.raises(asyncpg.CheckViolationError, match="finalized_at_matches_state"):
        await conn.execute(
            "INSERT INTO pqw_job (kind, max_attempts, state) VALUES ('k', 1, 'completed')"
        )
    with pytest.raises(asyncpg.CheckViolationError, match="finalized_at_matches_state"):
        await conn.execute(
            "INSERT INTO pqw_job (kind, max_attempts, finalized_at) VALUES ('k', 1, now())"
        )
    with pytest.raises(asyncpg.CheckViolationError, match="args_object"):
        await conn.execute("INSERT INTO pqw_job (kind, max_attempts, args) VALUES ('k', 1, '[1]')")
    assert await conn.fetchval("SELECT count(*) FROM pqw_job") == 1


def test_bad_dsn_gives_one_clear_line_and_masks_the_password() -> None:
    result = run_pqw("migrate", "up", "--dsn", "postgresql://bob:s3cret@127.0.0.1:1/app")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "127.0.0.1:1/app" in lines[0] and "connection refused" in lines[0]
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr

    unknown = run_pqw(
        "migrate", "status", "--dsn", "postgresql://bob:s3cret@no-such-host.invalid/db"
    )
    assert unknown.returncode == 1
    assert "no-such-host.invalid" in unknown.stderr and "s3cret" not in unknown.stderr


def test_mask_and_describe_dsn() -> None:
    assert mask_dsn("postgresql://u:pw@h:5/d") == "postgresql://u:***@h:5/d"
    assert mask_dsn("postgresql://h/d?password=pw&x=1") == "postgresql://h/d?password=***&x=1"
    assert describe_dsn("postgresql://u:pw@h:5433/d") == "u@h:5433/d"
    assert describe_dsn("postgresql://postgres:@/db?host=/tmp/sock") == "postgres@/tmp/sock/db"


EMBEDDED_PROBE = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(message)s")
from engine.db.dsn import resolve_dsn
from engine.db.embedded import default_data_dir, start_server
dsn = resolve_dsn(None)
print(start_server(default_data_dir()).get_pid(), flush=True)
sys.stdin.read()  # hold the server until the test closes our stdin
"""


def spawn_embedded_probe(home: Path) -> subprocess.Popen[str]:
    """A process using the embedded server in `home` (no database URL set) until its stdin closes."""
    env = subprocess_env(PQW_HOME=str(home))
    for var in ("PQW_DATABASE_URL", "DATABASE_URL"):
        env.pop(var, None)
    return subprocess.Popen(
        [sys.executable, "-c", EMBEDDED_PROBE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def test_embedded_server_starts_and_is_reused(tmp_path: Path) -> None:
    def spawn() -> subprocess.Popen[str]:
        return spawn_embedded_probe(tmp_path / "home")

    first = spawn()
    assert first.stdout is not None
    first_pid = first.stdout.readline().strip()
    second = spawn()
    assert second.stdout is not None
    second_pid = second.stdout.readline().strip()
    assert first_pid and first_pid == second_pid, "the second start must reuse the running server"
    _, first_err = first.communicate("", timeout=60)
    _, second_err = second.communicate("", timeout=60)
    assert first.returncode == 0 and second.returncode == 0, first_err + second_err
    data_dir = str(tmp_path / "home" / "postgres")
    assert "using the embedded PostgreSQL in" in first_err and data_dir in first_err
    # The last process to leave stopped the server it started.
    assert not (Path(data_dir) / "postmaster.pid").exists()


def test_a_killed_user_of_the_embedded_server_does_not_keep_it_running(tmp_path: Path) -> None:
    """A process killed while using the server never takes itself off the library's
    list of users; the last one to leave cleanly still stops the server."""
    data_dir = tmp_path / "home" / "postgres"
    killed, survivor = spawn_embedded_probe(tmp_path / "home"), None
    try:
        assert killed.stdout is not None
        server_pid = killed.stdout.readline().strip()
        assert server_pid
        survivor = spawn_embedded_probe(tmp_path / "home")
        assert survivor.stdout is not None
        assert survivor.stdout.readline().strip() == server_pid
        killed.kill()
        killed.wait(timeout=30)  # reaped: a zombie would still look alive
        _, err = survivor.communicate("", timeout=60)
        assert survivor.returncode == 0, err
        assert not (data_dir / "postmaster.pid").exists(), "the last user left: the server stops"
    finally:
        for proc in (killed, survivor):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        stop_embedded_server(data_dir)
