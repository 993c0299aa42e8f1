"""A real pqw-tui in a pseudo-terminal: a closed terminal (SIGHUP) or a plain kill
(SIGTERM) quits it as `q` does, and the embedded server it started stops; during
start-up, before the app is there to quit, the signal ends the start-up at once."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import signal
import socket
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


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["hang-up", "terminate"])
async def test_a_signal_during_start_up_ends_it_at_once_with_the_signals_exit_code(
    sig: signal.Signals,
) -> None:
    """Start-up can take seconds (a first embedded server, a migration, the demo), and
    before the app mounts Python's default died on the spot, leaving what it started."""
    # A "database" that takes the connection and never answers: start-up waits on it.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    silent.settimeout(60)
    port = silent.getsockname()[1]
    dashboard = subprocess.Popen(  # noqa: ASYNC220 - it only forks; waits are polled below
        [sys.executable, "-m", "tui", "--dsn", f"postgresql://pqw@127.0.0.1:{port}/pqw"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(TEXTUAL_ANIMATIONS="none"),
        cwd=ROOT,
    )
    try:
        connection, _ = await asyncio.to_thread(silent.accept)  # it is in start-up now
        dashboard.send_signal(sig)
        _, err = await asyncio.to_thread(dashboard.communicate, timeout=30)
        connection.close()
        # Not 1 ("cannot connect", after the connect timeout): the signal ended it.
        assert dashboard.returncode == 128 + sig, err
        assert "Traceback" not in err, err
    finally:
        if dashboard.poll() is None:
            dashboard.kill()
            await asyncio.to_thread(dashboard.wait)
        silent.close()


async def test_a_signal_kept_between_start_up_and_mount_quits_the_app_as_it_mounts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.app import App

    from tui import signals

    class Mounting(App[None]):
        def on_mount(self) -> None:
            signals.exit_on_signals(self)

    before = {sig: signal.getsignal(sig) for sig in signals.QUIT_SIGNALS}
    monkeypatch.setattr(signals, "_kept", [])
    try:
        signals.keep_signals()
        os.kill(os.getpid(), signal.SIGTERM)  # kept: Python runs the handler at once
        assert signals._kept == [signal.SIGTERM]
        app = Mounting()
        async with app.run_test() as pilot:
            await pilot.pause()
        assert app.return_code == 128 + signal.SIGTERM
    finally:
        for sig, handler in before.items():  # pytest's own again (the loop left SIG_DFL)
            signal.signal(sig, handler)
