"""The demo's cluster: `pqw demo` in two child processes, their output in one log file.

Two processes, so the dashboard shows what pqw is for: two live clients, one
leader, and a persistent worker that moves to the other process when its own
is killed (`kill -9` the pid in its "Runs on" column).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

# --exit-with-parent: the workers stop when the dashboard dies, however it dies (a
# closed terminal's SIGHUP or a SIGKILL leave it no chance to stop them itself).
DEMO_COMMAND: tuple[str, ...] = (
    sys.executable,
    "-m",
    "engine.cli",
    "demo",
    "--exit-with-parent",
)
STOP_TIMEOUT = 10.0
CLUSTER_SIZE = 2


def default_log_path() -> Path:
    return Path(tempfile.gettempdir()) / f"pqw-demo-{os.getpid()}.log"


class DemoProcess:
    """The running `pqw demo` processes; stop() ends them (SIGTERM, then SIGKILL) and waits."""

    def __init__(
        self, processes: list[subprocess.Popen[bytes]], log_path: Path, owns_log: bool = False
    ) -> None:
        self.processes = processes
        self.log_path = log_path
        # A log file of our own choosing goes when the demo ended well, so repeated
        # demos leave nothing in the temp folder; one that tells of a failure stays.
        self.owns_log = owns_log

    @classmethod
    def start(
        cls,
        dsn: str,
        log_path: Path | None = None,
        command: Sequence[str] = DEMO_COMMAND,
        size: int = CLUSTER_SIZE,
    ) -> DemoProcess:
        owns_log = log_path is None
        log_path = log_path or default_log_path()
        # The DSN travels in the environment, not on the command line, so its
        # password never shows in `ps`.
        env = {**os.environ, "PQW_DATABASE_URL": dsn}
        processes = []
        with open(log_path, "ab") as log:
            for _ in range(size):
                processes.append(
                    subprocess.Popen(
                        list(command),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        # Their own session: the terminal's signals belong to the
                        # dashboard, which stops the demo itself when it quits.
                        start_new_session=True,
                    )
                )
        return cls(processes, log_path, owns_log)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    @property
    def exit_code(self) -> int | None:
        """None while every process runs; else the exit code of the first that ended."""
        for process in self.processes:
            code = process.poll()
            if code is not None:
                return code
        return None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """Terminate and wait for every process; the first non-zero exit code, or 0.

        On 0 the log goes, if it was ours to choose; otherwise it is kept."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        code = next((code for code in codes if code), 0)
        if code == 0 and self.owns_log:
            self.log_path.unlink(missing_ok=True)
        return code
