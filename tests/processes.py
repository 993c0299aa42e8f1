"""Real worker processes for crash tests: spawn, find, SIGKILL, and always clean up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, subprocess_env


class Workers:
    """`pqw worker tests.workers.app:client` processes on one test database."""

    def __init__(self, dsn: str, log_dir: Path) -> None:
        self.dsn = dsn
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, *, queues: str | None = None, **env: str) -> subprocess.Popen[bytes]:
        args = [
            sys.executable,
            "-m",
            "engine.cli",
            "worker",
            "tests.workers.app:client",
            "--dsn",
            self.dsn,
        ]
        if queues:
            args += ["--queues", queues]
        log = open(self.log_dir / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=subprocess_env(**env), cwd=ROOT
        )
        log.close()
        self.procs.append(proc)
        return proc

    def kill(self, pid: int) -> None:
        """SIGKILL: no cleanup, no goodbye, exactly like a crashed machine."""
        os.kill(pid, signal.SIGKILL)
        for proc in self.procs:
            if proc.pid == pid:
                proc.wait(10)

    def terminate(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout)

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


@pytest.fixture
def workers(dsn: str, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(dsn, tmp_path)
    yield pool
    pool.stop_all()
