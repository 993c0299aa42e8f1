"""Starting pqw-tui: bad input is one line, --demo migrates and runs (and stops) its workers."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notify

from engine.admin import Admin
from tests.helpers import ROOT, wait_for
from tui.app import PqwApp, main
from tui.dev.demo import DEMO_COMMAND, DemoProcess
from tui.dev.sample import SampleSource
from tui.launch import Launch, Options, prepare

# Stands in for `pqw demo`: says it started (and whether it got the DSN), stops on SIGTERM.
# Each line is one write(2) to the shared log: print() writes its pieces one by one
# when stdout is unbuffered (PYTHONUNBUFFERED), and the two processes' lines mixed.
FAKE_DEMO = """
import os, signal, sys
def say(line):
    os.write(1, (line + "\\n").encode())
def stop(*_):
    say("demo stopping")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
say(f"demo started; dsn given: {'PQW_DATABASE_URL' in os.environ}")
while True:
    signal.pause()
"""


def test_unreachable_database_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--dsn", "postgresql://alice:s3cret@127.0.0.1:1/orders"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("pqw-tui: error: cannot connect to Postgres at alice@127.0.0.1:1/")
    assert "s3cret" not in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_malformed_dsn_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dsn", "postgresql://u:pw@host:notaport/db"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pqw-tui: error:")
    assert ":pw@" not in err[0]


def test_unknown_theme_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--theme", "sparkles", "--dsn", "postgresql://127.0.0.1:1/x"])
    assert exit_info.value.code == 2
    assert "unknown theme 'sparkles'" in capsys.readouterr().err


def test_the_demo_runs_pqw_demo_in_a_child_python() -> None:
    assert (sys.executable, "-m", "engine.cli", "demo", "--exit-with-parent") == DEMO_COMMAND


async def test_demo_migrates_starts_workers_in_a_process_and_stops_them(
    bare_dsn: str, tmp_path: Path
) -> None:
    log = tmp_path / "demo.log"
    launch = await asyncio.to_thread(
        prepare,
        Options(dsn=bare_dsn, demo=True),
        demo_command=[sys.executable, "-c", FAKE_DEMO],
        demo_log=log,
    )
    try:
        admin = await Admin.connect(bare_dsn)  # checks the schema: SchemaError if not migrated
        await admin.close()
        assert launch.demo is not None
        assert launch.demo.exit_code is None

        async def started() -> bool:
            # Both members of the cluster, each ready for its SIGTERM.
            return log.read_text().count("demo started; dsn given: True") == 2

        await wait_for(started, message="both demo processes to write their log")
        assert len(launch.demo.processes) == 2  # a cluster: two clients, one leader
        for process in launch.demo.processes:
            assert bare_dsn not in " ".join(process.args)  # type: ignore[arg-type]
    finally:
        await asyncio.to_thread(launch.close)
    assert launch.demo.exit_code == 0
    assert log.read_text().count("demo stopping") == 2


async def test_a_demo_process_that_dies_is_reported(tmp_path: Path) -> None:
    demo = DemoProcess.start(
        "postgresql://unused", tmp_path / "demo.log", [sys.executable, "-c", "exit(3)"]
    )
    seen: list[Message] = []
    app = PqwApp(SampleSource(), demo=demo)
    async with app.run_test(message_hook=seen.append) as pilot:

        async def reported() -> bool:
            await pilot.pause()
            return any(
                isinstance(m, Notify) and "exited with code 3" in m.notification.message
                for m in seen
            )

        await wait_for(reported, message="the demo's exit to be reported")
    demo.stop()


async def test_the_demo_log_goes_after_a_clean_stop_and_stays_after_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The dashboard's own log path is in the temp folder; this test's, in its own.
    clean_log, failed_log = tmp_path / "clean.log", tmp_path / "failed.log"
    paths = iter([clean_log, failed_log])
    monkeypatch.setattr("tui.dev.demo.default_log_path", lambda: next(paths))
    clean = DemoProcess.start("postgresql://unused", command=[sys.executable, "-c", FAKE_DEMO])
    await wait_for(
        lambda: clean_log.read_text().count("demo started") == 2, message="the demo to start"
    )
    await asyncio.to_thread(Launch("postgresql://unused", clean).close)
    assert clean.exit_code == 0
    assert not clean_log.exists()
    assert capsys.readouterr().err == ""

    failed = DemoProcess.start(
        "postgresql://unused", command=[sys.executable, "-c", "print('boom'); exit(3)"], size=1
    )
    await wait_for(lambda: failed.exit_code is not None, message="the demo to fail")
    await asyncio.to_thread(Launch("postgresql://unused", failed).close)
    assert "boom" in failed_log.read_text()
    err = capsys.readouterr().err
    assert f"ended with code 3; its log is kept in {failed_log}" in err


# The dashboard's stand-in: starts the real demo workers as the dashboard does, says
# their pids, then waits to be killed without a chance to stop them.
DASHBOARD_THAT_DIES = """
import sys, time
from pathlib import Path
from tui.dev.demo import DemoProcess
demo = DemoProcess.start(sys.argv[1], Path(sys.argv[2]), size=1)
print(*demo.pids, flush=True)
time.sleep(600)
"""


async def test_demo_workers_stop_when_the_dashboard_is_killed(
    dsn: str, conn: Any, tmp_path: Path
) -> None:
    dashboard = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        DASHBOARD_THAT_DIES,
        dsn,
        str(tmp_path / "demo.log"),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert dashboard.stdout is not None
    (worker_pid,) = map(int, (await dashboard.stdout.readline()).split())
    started = "SELECT id FROM pqw_client WHERE pid = $1 AND stopped_at IS NULL"
    await wait_for(lambda: conn.fetchval(started, worker_pid), timeout=30, message="the demo")
    dashboard.kill()  # SIGKILL: the dashboard stops nothing itself
    await dashboard.wait()
    stopped = "SELECT stopped_at IS NOT NULL FROM pqw_client WHERE pid = $1"
    await wait_for(
        lambda: conn.fetchval(stopped, worker_pid), timeout=30, message="a graceful stop"
    )

    def gone() -> bool:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            return True
        # An exited orphan that init has not reaped yet is a zombie: gone all the same.
        return Path(f"/proc/{worker_pid}/stat").read_text().split()[2] == "Z"

    await wait_for(gone, timeout=15, message="the demo process to exit")
