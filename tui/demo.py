"""The demo's worker process: `pqw demo` in a child process, its output in a log file."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

DEMO_COMMAND: tuple[str, ...] = (sys.executable, "-m", "engine.cli", "demo")
STOP_TIMEOUT = 10.0


def default_log_path() -> Path:
    return Path(tempfile.gettempdir()) / f"pqw-demo-{os.getpid()}.log"


class DemoProcess:
    """A running `pqw demo`; stop() ends it (SIGTERM, then SIGKILL) and waits for it."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @classmethod
    def start(
        cls,
        dsn: str,
        log_path: Path | None = None,
        command: Sequence[str] = DEMO_COMMAND,
    ) -> DemoProcess:
        log_path = log_path or default_log_path()
        # The DSN travels in the environment, not on the command line, so its
        # password never shows in `ps`.
        env = {**os.environ, "PQW_DATABASE_URL": dsn}
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                # Its own session: the terminal's signals belong to the dashboard,
                # which stops the demo itself when it quits.
                start_new_session=True,
            )
        return cls(process, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def exit_code(self) -> int | None:
        """None while it runs."""
        return self.process.poll()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """Terminate and wait; its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()
