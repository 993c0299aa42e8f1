"""A real pqw-tui in a pseudo-terminal: a closed terminal (SIGHUP) or a plain kill
(SIGTERM) quits it as `q` does, and the embedded server it started stops."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import asyncpg
import pytest

from tests.helpers import ROOT, stop_embedded_server, subprocess_env, wait_for


def drain(fd: int) -> None:
    """Read the dashboard's output until the terminal closes, so its writes never block."""
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["hang-up", "terminate"])
async def test_the_dashboard_quits_on_a_signal_and_stops_the_server_it_started(
    tmp_path: Path, sig: signal.Signals
) -> None:
    env = subprocess_env(PQW_HOME=str(tmp_path / "home"), TEXTUAL_ANIMATIONS="none")
    for var in ("PQW_DATABASE_URL", "DATABASE_URL"):
        env.pop(var, None)
    data_dir = tmp_path / "home" / "postgres"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    dashboard = subprocess.Popen(  # noqa: ASYNC220 - it only forks; waits are polled below
        [sys.executable, "-m", "tui"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(slave)
    reader = threading.Thread(target=drain, args=(master,), daemon=True)
    reader.start()
    master_open = True
    try:
        # Polling means mounted, and the app takes its signals in on_mount, before its
        # first poll: from then on the signal is the app's.
        async def polling() -> bool:
            if not (data_dir / "postmaster.pid").exists():
                return False
            try:
                conn = await asyncpg.connect(host=str(data_dir), user="postgres")
            except (OSError, asyncpg.PostgresError):
                return False
            try:
                return bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pqw-tui'"
                    )
                )
            finally:
                await conn.close()

        await wait_for(polling, timeout=60, message="the dashboard to poll")
        if sig == signal.SIGHUP:
            os.close(master)  # the terminal is gone, as when its window is closed
            master_open = False
        dashboard.send_signal(sig)
        await wait_for(
            lambda: dashboard.poll() is not None, timeout=30, message="the dashboard to quit"
        )
        assert dashboard.returncode == 128 + sig
        assert not (data_dir / "postmaster.pid").exists(), "the server it started stops"
    finally:
        if dashboard.poll() is None:
            dashboard.kill()
            dashboard.wait(timeout=30)
        if master_open:
            os.close(master)
        reader.join(timeout=10)
        stop_embedded_server(data_dir)
