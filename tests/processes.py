"""Real worker processes for crash tests: spawn, find, SIGKILL, and always clean up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import asyncpg
import pytest

from engine.admin import Admin
from engine.db.pool import connect
from tests.helpers import ROOT, subprocess_env, wait_for
from tests.workers.app import CREATE_TABLES


def _hang_up_as_from_a_terminal() -> None:
    """In the child, before exec: SIGHUP back to its default, as in a shell on a
    terminal. A suite started under nohup would otherwise hand its workers an ignored
    SIGHUP, which `pqw worker` respects as nohup's, and a hang-up would stop none."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


class Workers:
    """`pqw worker tests.workers.app:client` processes (or another test app) on one test database."""

    def __init__(self, dsn: str, log_dir: Path) -> None:
        self.dsn = dsn
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(
        self,
        *,
        queues: str | None = None,
        app: str = "tests.workers.app:client",
        wrapper: Sequence[str] = (),
        **env: str,
    ) -> subprocess.Popen[bytes]:
        """Start a worker; `wrapper` is a command it runs under (["nohup"])."""
        args = [*wrapper, sys.executable, "-m", "engine.cli", "worker", app, "--dsn", self.dsn]
        if queues:
            args += ["--queues", queues]
        log = open(self.log_dir / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=subprocess_env(**env),
            cwd=ROOT,
            preexec_fn=_hang_up_as_from_a_terminal,
        )
        log.close()
        self.procs.append(proc)
        return proc

    async def ready(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait until the worker says it has started (its queues are being worked)."""
        index = self.procs.index(proc)
        log = self.log_dir / f"worker-{index}.log"

        async def started() -> bool:
            return log.exists() and "started on" in log.read_text(errors="replace")

        await wait_for(started, timeout=30, message=f"worker {proc.pid} to start")

    def kill(self, pid: int) -> None:
        """SIGKILL: no cleanup, no goodbye, exactly like a crashed machine."""
        os.kill(pid, signal.SIGKILL)
        for proc in self.procs:
            if proc.pid == pid:
                proc.wait(10)

    def terminate(
        self, proc: subprocess.Popen[bytes], timeout: float = 30, sig: int = signal.SIGTERM
    ) -> int:
        """SIGTERM (or `sig`) and wait for the graceful exit; a hang fails with the workers' logs."""
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"worker {proc.pid} did not stop within {timeout}s\n{self.logs()}"
            ) from None

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait(10)


async def database_activity(db: asyncpg.Connection) -> str:
    """pg_stat_activity and pg_locks of this test's database, as text (for a failure)."""
    sessions = await db.fetch(
        "SELECT pid, application_name, state, wait_event_type, wait_event, xact_start, "
        "state_change, left(query, 120) AS query FROM pg_stat_activity "
        "WHERE datname = current_database() ORDER BY pid"
    )
    locks = await db.fetch(
        "SELECT l.pid, l.locktype, l.relation::regclass::text AS relation, l.mode, l.granted, "
        "l.transactionid::text AS xid, l.page, l.tuple "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE a.datname = current_database() AND l.locktype <> 'virtualxid' "
        "ORDER BY l.pid, l.locktype"
    )
    lines = ["--- pg_stat_activity", *(str(dict(r)) for r in sessions)]
    lines += ["--- pg_locks", *(str(dict(r)) for r in locks)]
    return "\n".join(lines)


async def registered(db: asyncpg.Connection, pid: int) -> str:
    """The client id of a worker process, once it has registered."""

    async def find() -> str | None:
        return await db.fetchval(
            "SELECT id FROM pqw_client WHERE pid = $1 AND stopped_at IS NULL", pid
        )

    client_id: str = await wait_for(find, timeout=30, message=f"process {pid} to register")
    return client_id


@pytest.fixture
async def db(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test database, with the tables the test worker app writes."""
    conn = await connect(dsn)
    await conn.execute(CREATE_TABLES)
    yield conn
    await conn.close()


@pytest.fixture
async def admin(dsn: str) -> AsyncIterator[Admin]:
    opened = await Admin.connect(dsn)
    yield opened
    await opened.close()


@pytest.fixture
def workers(dsn: str, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(dsn, tmp_path)
    yield pool
    pool.stop_all()
