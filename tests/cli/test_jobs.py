"""`pqw jobs list|show|retry|cancel|delete`: tables, JSON documents, questions and exit codes."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.cli.runner import NO_DATABASE, pqw
from tests.helpers import ROOT, subprocess_env, wait_for
from tests.tui.seed import add_job, add_job_in_state, job_row, smtp_error


async def _seed(conn: asyncpg.Connection) -> dict[str, int]:
    return {
        "mail_available": await add_job_in_state(conn, "available", args={"to": "ana"}),
        "mail_discarded": await add_job_in_state(
            conn, "discarded", attempt=5, errors=[smtp_error(5)], args={"to": "bo"}
        ),
        "mail_running": await add_job_in_state(conn, "running", attempt=1),
        "report_discarded": await add_job_in_state(
            conn, "discarded", queue="reports", kind="report.build", attempt=5
        ),
    }


async def test_list_filters_and_answers_in_a_table_or_json(
    dsn: str, conn: asyncpg.Connection
) -> None:
    ids = await _seed(conn)
    table = await pqw(dsn, "jobs", "list")
    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    assert header.split() == ["ID", "STATE", "QUEUE", "KIND", "ATTEMPT", "CREATED", "ARGS"]
    assert [int(r.split()[0]) for r in rows] == sorted(ids.values(), reverse=True)
    assert "  now  " in rows[0] or " ago  " in rows[0]  # created, in words

    found = await pqw(dsn, "jobs", "list", "--state", "discarded", "--json")
    assert found.code == 0
    assert [j["id"] for j in found.json] == [ids["report_discarded"], ids["mail_discarded"]]
    job = found.json[1]
    assert job["state"] == "discarded" and job["args"] == {"to": "bo"}
    assert job["errors"][0]["error"].startswith("ConnectionError") and "_stop" not in job

    narrowed = await pqw(
        dsn, "jobs", "list", "--queue", "mail", "--kind", "email.*", "--args", '{"to": "ana"}',
        "--json",
    )  # fmt: skip
    assert [j["id"] for j in narrowed.json] == [ids["mail_available"]]
    limited = await pqw(dsn, "jobs", "list", "--limit", "1", "--json")
    assert [j["id"] for j in limited.json] == [ids["report_discarded"]]
    below = await pqw(dsn, "jobs", "list", "--before", str(ids["mail_running"]), "--json")
    assert [j["id"] for j in below.json] == [ids["mail_discarded"], ids["mail_available"]]
    none = await pqw(dsn, "jobs", "list", "--queue", "nowhere")
    assert none.code == 0 and none.out == "no jobs match\n"
    assert (await pqw(dsn, "jobs", "list", "--queue", "nowhere", "--json")).json == []


async def test_bad_filters_are_usage_errors_in_one_line() -> None:
    for argv, said in (
        (["--args", "{not json"], "--args: not JSON"),
        (["--args", "[1, 2]"], "must be a JSON object"),
        (["--args", '{"to": "\\u0000"}'], "contains a NUL character"),
        (["--state", "sleeping"], "invalid choice: 'sleeping'"),
        (["--limit", "0"], "must be between 1 and 10000"),
        (["--limit", "many"], "not a whole number"),
    ):
        result = await pqw(NO_DATABASE, "jobs", "list", *argv)
        assert result.code == 2 and said in result.err, (argv, result.err)
        assert result.err.count("\n") == 1 and result.out == ""


async def test_show_tells_one_job_or_that_there_is_none(dsn: str, conn: asyncpg.Connection) -> None:
    ids = await _seed(conn)
    shown = await pqw(dsn, "jobs", "show", str(ids["mail_discarded"]))
    assert shown.code == 0
    assert f"job {ids['mail_discarded']}  email.send  in queue mail" in shown.out
    assert "discarded (attempt 5 of 5)" in shown.out
    assert "error #5 at 2026-03-14T09:26:41+00:00: ConnectionError" in shown.out
    assert 'File "mailer.py", line 41' in shown.out  # the last error's trace
    # A trace is multi-line, and holds what the exception said: escapes shown, not acted on.
    trace = "Traceback:\n  boom \x1b[2J\x1b]0;owned\x07"
    await conn.execute(
        "UPDATE pqw_job SET errors = jsonb_set(errors, '{0,trace}', to_jsonb($1::text))"
        " WHERE id = $2",
        trace,
        ids["mail_discarded"],
    )
    shown = await pqw(dsn, "jobs", "show", str(ids["mail_discarded"]))
    assert "\x1b" not in shown.out and "\x07" not in shown.out
    assert "Traceback:\n  boom \\x1b[2J\\x1b]0;owned\\x07" in shown.out
    as_json = await pqw(dsn, "jobs", "show", str(ids["mail_discarded"]), "--json")
    assert as_json.json["id"] == ids["mail_discarded"] and as_json.json["queue"] == "mail"
    missing = await pqw(dsn, "jobs", "show", "999999", "--json")
    assert (missing.code, missing.out) == (1, "")
    assert missing.err == "pqw: error: no job with id 999999\n"
    for bad in ("abc", "0", str(2**63)):
        wrong = await pqw(dsn, "jobs", "show", bad)
        assert wrong.code == 2 and "not a job id" in wrong.err


async def test_actions_on_ids_do_each_they_can_and_say_why_not_the_others(
    dsn: str, conn: asyncpg.Connection
) -> None:
    ids = await _seed(conn)
    retried = await pqw(
        dsn, "jobs", "retry", str(ids["mail_discarded"]), str(ids["mail_running"]), "--json"
    )
    assert retried.code == 1
    assert retried.json["done"] == [
        {
            "id": ids["mail_discarded"],
            "state": "available",
            "message": f"job {ids['mail_discarded']}: retried (now available)",
        }
    ]
    assert [r["id"] for r in retried.json["refused"]] == [ids["mail_running"]]
    assert "is running" in retried.err and retried.err.count("\n") == 1

    cancelled = await pqw(dsn, "jobs", "cancel", str(ids["mail_running"]))
    assert cancelled.code == 0 and "its client is told to cancel it" in cancelled.out
    deleted = await pqw(dsn, "jobs", "delete", str(ids["report_discarded"]))
    assert (deleted.code, deleted.out) == (0, f"job {ids['report_discarded']}: deleted\n")
    assert await job_row(conn, ids["report_discarded"]) is None
    gone = await pqw(dsn, "jobs", "delete", str(ids["report_discarded"]))
    assert gone.code == 1 and f"no job with id {ids['report_discarded']}" in gone.err


async def test_bulk_actions_ask_first_and_change_nothing_unless_told(
    dsn: str, conn: asyncpg.Connection
) -> None:
    ids = await _seed(conn)
    discarded = ("--filter", "--state", "discarded")

    # A script (no terminal) must say --yes; a "no" at the question changes nothing.
    script = await pqw(dsn, "jobs", "retry", *discarded)
    assert script.code == 2 and "retry 2 jobs" in script.err and "add --yes" in script.err
    declined = await pqw(dsn, "jobs", "retry", *discarded, answer="n\n")
    assert declined.code == 1 and "retry 2 jobs? [y/N]" in declined.out
    assert "nothing changed" in declined.out
    hung_up = await pqw(dsn, "jobs", "delete", *discarded, answer="")
    assert hung_up.code == 1 and "nothing changed" in hung_up.out
    states = "SELECT count(*) FROM pqw_job WHERE state = 'discarded'"
    assert await conn.fetchval(states) == 2

    agreed = await pqw(dsn, "jobs", "retry", *discarded, "--queue", "mail", answer="y\n")
    assert agreed.code == 0 and agreed.out.endswith("1 job retried\n"), agreed.out
    assert (await job_row(conn, ids["mail_discarded"]))["state"] == "available"

    # Running jobs are left to their clients: cancelled by message, counted as acted on.
    cancelled = await pqw(dsn, "jobs", "cancel", "--filter", "--queue", "mail", "--yes", "--json")
    assert cancelled.code == 0
    assert cancelled.json == {"action": "cancel", "matched": 3, "acted": 3, "skipped": 0}
    nothing = await pqw(dsn, "jobs", "delete", "--filter", "--kind", "nothing.*", "--json")
    assert nothing.code == 0
    assert nothing.json == {"action": "delete", "matched": 0, "acted": 0, "skipped": 0}
    deleted = await pqw(dsn, "jobs", "delete", "--filter", "--queue", "reports", "--yes")
    assert deleted.code == 0 and deleted.out == "1 job deleted\n"


async def test_bulk_actions_called_wrongly_are_usage_errors() -> None:
    for argv, said in (
        ([], "give the job ids, or --filter"),
        (["1", "--filter"], "not both"),
        (["--queue", "mail"], "the filter options need --filter"),
        (["x1"], "not a job id"),
    ):
        result = await pqw(NO_DATABASE, "jobs", "cancel", *argv)
        assert result.code == 2 and said in result.err, (argv, result.err)


async def test_failures_are_grouped_by_kind_and_error(dsn: str, conn: asyncpg.Connection) -> None:
    ids = await _seed(conn)
    await add_job_in_state(conn, "retryable", attempt=1, errors=[smtp_error(1)])
    table = await pqw(dsn, "jobs", "failures", "--queue", "mail")
    assert table.code == 0
    header, row = table.out.splitlines()
    assert header.split()[:4] == ["JOBS", "RETRYABLE", "DISCARDED", "KIND"]
    assert row.split()[:5] == ["2", "1", "1", "email.send", "mail"]
    assert row.endswith("ConnectionError: SMTP server closed the connection")
    groups = (await pqw(dsn, "jobs", "failures", "--json")).json
    assert sorted((g["kind"], g["jobs"]) for g in groups) == [
        ("email.send", 2),
        ("report.build", 1),
    ]
    mail = next(g for g in groups if g["kind"] == "email.send")
    assert mail["newest_id"] > ids["mail_discarded"] and mail["queues"] == ["mail"]
    none = await pqw(dsn, "jobs", "failures", "--queue", "nowhere")
    assert none.out == "no failed jobs\n"


# pqw as a terminal's foreground command gets it: SIGINT not ignored. A suite started
# in the background of a script (`pytest &`) ignores SIGINT, as POSIX has the shell do
# for background jobs, and every child inherits that; pqw rightly leaves such a signal
# ignored (as SIGHUP under nohup), so the test would wait for nothing.
AS_IN_A_TERMINAL = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from engine.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def signal_masks(command: subprocess.Popen[bytes]) -> str:
    """The process's state and signal masks: what it did with the signal (ignored,
    blocked, pending, caught), should it not end."""
    try:
        status = Path(f"/proc/{command.pid}/status").read_text().splitlines()
    except OSError as exc:
        return f"no status: {exc}"
    return "; ".join(line for line in status if line.startswith(("State", "Sig", "Threads")))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["terminate", "ctrl-c"])
async def test_a_signal_at_the_question_ends_the_command_at_once(
    dsn: str, conn: asyncpg.Connection, sig: signal.Signals
) -> None:
    """The answer was read in asyncio's executor, whose thread asyncio.run waits for:
    the signal cancelled the command, and the process lived on until Enter."""
    job = await add_job(conn, "mail", "email.send")
    terminal, its_end = os.openpty()
    delete = ["jobs", "delete", "--filter", "--kind", "email.send", "--dsn", dsn]
    command = subprocess.Popen(  # noqa: ASYNC220 - it only forks; waits are polled below
        [sys.executable, "-c", AS_IN_A_TERMINAL, *delete],
        stdin=its_end,
        stdout=its_end,
        stderr=its_end,
        env=subprocess_env(),
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(its_end)
    said = bytearray()

    def asked() -> bool:
        if select.select([terminal], [], [], 0)[0]:
            said.extend(os.read(terminal, 4096))
        return b"delete 1 job? [y/N]" in said

    try:
        await wait_for(asked, timeout=30, message="the question")
        command.send_signal(sig)
        # Before the fix it lived on until Enter; a busy machine can take seconds to end it.
        try:
            await wait_for(lambda: command.poll() is not None, timeout=30, message="the end")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {signal_masks(command)}") from exc
        assert command.returncode == 128 + sig, bytes(said)
        assert await job_row(conn, job) is not None, "nothing changed"
    finally:
        if command.poll() is None:
            command.kill()
            await asyncio.to_thread(command.wait)
        os.close(terminal)


@pytest.mark.parametrize("buffered", [False, True], ids=["in-a-print", "at-the-last-flush"])
async def test_a_closed_stdout_ends_the_command_quietly(
    dsn: str, conn: asyncpg.Connection, buffered: bool
) -> None:
    """`pqw jobs list | head -1`: the reader gone is no lost database connection, whether
    a print finds it or (stdout buffered, the output short) the flush at the end does."""
    for _ in range(3):
        await add_job(conn, "mail", "email.send")
    env = subprocess_env(PYTHONUNBUFFERED="1")
    if buffered:
        del env["PYTHONUNBUFFERED"]
    reader, writer = os.pipe()
    os.close(reader)  # before the command writes: every write fails with EPIPE
    try:
        listed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "engine.cli", "jobs", "list", "--dsn", dsn],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=env,
            cwd=ROOT,
        )
    finally:
        os.close(writer)
    assert (listed.returncode, listed.stderr) == (141, "")
