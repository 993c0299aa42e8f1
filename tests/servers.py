"""Servers the compatibility tests start themselves: a Debian PostgreSQL and PgBouncer.

Each runs on a free loopback port with its data in a temporary folder, as an
unprivileged user (postgres and pgbouncer refuse to run as root), and is
stopped by the handle that started it, never by name. When the binaries are
missing the tests skip with the reason; with PQW_REQUIRE_COMPAT=1 (CI) they fail.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The role the tests log in as, with a password, so URLs and errors can be
# checked for it never being shown.
USER = "pqw"
PASSWORD = "s3cret-" + secrets.token_hex(6)

# Debian's layout; PQW_COMPAT_PG_BIN points at another major's bin folder.
DEFAULT_PG_BIN = "/usr/lib/postgresql/15/bin"
PGBOUNCER_CANDIDATES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def require(what: str, install: str) -> None:
    """Skip (locally) or fail (PQW_REQUIRE_COMPAT=1, as CI sets) when `what` is missing."""
    message = f"{what} is not installed ({install}); the compatibility tests need it"
    if os.environ.get("PQW_REQUIRE_COMPAT") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def pg_bin() -> Path:
    folder = Path(os.environ.get("PQW_COMPAT_PG_BIN", DEFAULT_PG_BIN))
    if not (folder / "initdb").exists() or not (folder / "pg_ctl").exists():
        require(f"PostgreSQL in {folder}", "apt-get install postgresql-15")
    return folder


def pgbouncer_bin() -> Path:
    found = shutil.which("pgbouncer") or next(
        (c for c in PGBOUNCER_CANDIDATES if Path(c).exists()), None
    )
    if found is None:
        require("pgbouncer", "apt-get install pgbouncer")
    assert found is not None
    return Path(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port} after {timeout}s") from None
            time.sleep(0.05)


class RunAs:
    """Who the servers run as: ourselves, or the postgres system user when we are root."""

    def __init__(self) -> None:
        self.kwargs: dict[str, Any] = {}
        self.uid: int | None = None
        self.gid: int | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                require("the postgres system user", "apt-get install postgresql-15")
                raise
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
            self.kwargs = {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(args, check=True, capture_output=True, **self.kwargs, **kwargs)

    def popen(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **self.kwargs)


def temp_folder(prefix: str, run_as: RunAs) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    run_as.own(folder)
    return folder


@dataclass
class Postgres:
    """A PostgreSQL server of our own: initdb, start, and stop only what we started."""

    bin: Path
    folder: Path
    port: int
    run_as: RunAs

    @classmethod
    def start(cls, bin_dir: Path) -> Postgres:
        run_as = RunAs()
        folder = temp_folder("pqw-compat-pg-", run_as)
        pwfile = folder / "pw"
        pwfile.write_text(PASSWORD + "\n")
        run_as.own(pwfile)
        data = folder / "data"
        run_as.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        server = cls(bin_dir, folder, free_port(), run_as)
        options = " ".join(
            [
                f"-c port={server.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={folder}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
            ]
        )
        run_as.run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "postgres.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        return server

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            self.run_as.run(
                [str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "stop"]
            )
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class PgBouncer:
    """A pgbouncer of our own in front of a Postgres, in one pool mode."""

    proc: subprocess.Popen[bytes]
    folder: Path
    port: int
    mode: str

    @classmethod
    def start(cls, binary: Path, server: Postgres, mode: str, pool_size: int = 4) -> PgBouncer:
        run_as = server.run_as
        folder = temp_folder(f"pqw-compat-pgbouncer-{mode}-", run_as)
        port = free_port()
        userlist = folder / "userlist.txt"
        userlist.write_text(f'"{USER}" "{PASSWORD}"\n')
        ini = folder / "pgbouncer.ini"
        # Every database name goes to the same name on the server (a fresh one per test).
        # Nothing is loosened for pqw: no ignore_startup_parameters, default reset query.
        ini.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host=127.0.0.1 port={server.port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {port}",
                    "unix_socket_dir =",
                    "auth_type = scram-sha-256",
                    f"auth_file = {userlist}",
                    f"pool_mode = {mode}",
                    f"default_pool_size = {pool_size}",
                    "max_client_conn = 500",
                    "server_idle_timeout = 20",
                    f"pidfile = {folder / 'pgbouncer.pid'}",
                    f"admin_users = {USER}",
                    "",
                ]
            )
        )
        for path in (userlist, ini):
            run_as.own(path)
        log = folder / "pgbouncer.log"
        proc = run_as.popen([str(binary), str(ini)], log)
        try:
            wait_for_port(port, proc, log, timeout=30)
        except BaseException:
            proc.kill()
            proc.wait(10)
            raise
        return cls(proc, folder, port, mode)

    def url(self, database: str) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
