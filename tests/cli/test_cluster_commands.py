"""`pqw queues`, `pqw periodic` and `pqw clients`: their tables, JSON documents and exit codes."""

from __future__ import annotations

import asyncpg

from engine.admin import Admin
from tests.cli.runner import pqw
from tests.tui.seed import add_client, add_job_in_state, add_periodic


async def test_queues_list_pause_resume_and_scale(
    dsn: str, conn: asyncpg.Connection, admin: Admin
) -> None:
    await add_job_in_state(conn, "available")
    await add_job_in_state(conn, "discarded")
    table = await pqw(dsn, "queues", "list")
    assert table.code == 0
    header, row = table.out.splitlines()
    assert header.split() == [
        "QUEUE", "STATE", "SLOTS", "AVAILABLE", "SCHEDULED", "RUNNING", "RETRYABLE", "WAITED",
        "FAILING",
    ]  # fmt: skip
    assert row.split()[:4] == ["mail", "active", "code", "1"]

    paused = await pqw(dsn, "queues", "pause", "mail", "--json")
    assert paused.json == {"queue": "mail", "paused": True, "known": True}
    scaled = await pqw(dsn, "queues", "scale", "mail", "20")
    assert scaled.out.startswith("queue mail: 20 slots on each client")
    (mail,) = (await pqw(dsn, "queue", "list", "--json")).json
    assert mail["paused"] and mail["concurrency"] == 20
    assert mail["counts"]["available"] == 1 and mail["counts"]["discarded"] == 1
    assert mail["total"] == 2 and set(mail["counts"]) >= {"running", "pending"}
    back = await pqw(dsn, "queues", "scale", "mail", "--json")
    assert back.json == {"queue": "mail", "concurrency": None}
    resumed = await pqw(dsn, "queue", "resume", "mail")
    assert resumed.out == "queue mail resumed\n"
    (counts,) = await admin.queue_state_counts()
    assert (counts.paused, counts.concurrency) == (False, None)

    # A queue nobody knows yet is paused all the same, with a note (a typo?) on stderr.
    ahead = await pqw(dsn, "queues", "pause", "maill")
    assert ahead.code == 0 and "did you mean 'mail'?" in ahead.err
    for argv, said in ((["-1"], "must be between 0 and 10000"), (["lots"], "not a whole number")):
        wrong = await pqw(dsn, "queues", "scale", "mail", *argv)
        assert wrong.code == 2 and said in wrong.err
    refused = await pqw(dsn, "queues", "scale", "x" * 200, "3")
    assert refused.code == 1 and refused.err.startswith("pqw: error: queue must be")


async def test_periodic_list_enable_disable_run_and_delete(
    dsn: str, conn: asyncpg.Connection
) -> None:
    await add_periodic(conn, "report.build")
    table = await pqw(dsn, "periodic", "list")
    assert table.code == 0
    header, row = table.out.splitlines()
    assert header.split() == ["ID", "KIND", "SCHEDULE", "STATE", "NEXT", "LAST", "NOTE"]
    assert "every 30s" in row and "enabled" in row and "in 1" in row  # next: in ~12 seconds
    assert "no live client runs kind report.build" in row

    disabled = await pqw(dsn, "periodic", "disable", "report.build")
    assert disabled.out == "report.build: disabled\n"
    idle = await pqw(dsn, "periodic", "run", "report.build")  # a disabled one runs nothing
    assert idle.code == 1 and "'report.build' is disabled, so nothing would run" in idle.err
    not_due = "SELECT next_run_at > now() FROM pqw_periodic_job WHERE id = 'report.build'"
    assert await conn.fetchval(not_due)
    (schedule,) = (await pqw(dsn, "periodic", "list", "--json")).json
    assert schedule["id"] == "report.build" and schedule["enabled"] is False
    assert schedule["note"].startswith("no live client runs")
    enabled = await pqw(dsn, "periodic", "enable", "report.build", "--json")
    assert enabled.json == {"id": "report.build", "action": "enable"}
    ran = await pqw(dsn, "periodic", "run", "report.build")
    assert ran.code == 0 and "due now" in ran.out
    due = "SELECT next_run_at <= now() FROM pqw_periodic_job WHERE id = 'report.build'"
    assert await conn.fetchval(due)
    for action in ("enable", "disable", "run", "delete"):
        missing = await pqw(dsn, "periodic", action, "nightly")
        assert missing.code == 1
        assert missing.err == "pqw: error: no periodic schedule with id 'nightly'\n"
    deleted = await pqw(dsn, "periodic", "delete", "report.build", "--json")
    assert deleted.json == {"id": "report.build", "action": "delete"}
    empty = await pqw(dsn, "periodic", "list")
    assert empty.out == "no periodic schedules\n"


async def test_clients_list_the_live_ones_or_all(dsn: str, conn: asyncpg.Connection) -> None:
    await add_client(conn)
    await add_client(conn, client_id="client-old", host="node-2", pid=7)
    await conn.execute("UPDATE pqw_client SET stopped_at = now() WHERE id = 'client-old'")
    # Killed: never stopped, marked dead by the leader. Lost, so only in --all.
    await add_client(conn, client_id="client-killed", host="node-3", pid=9)
    await conn.execute("UPDATE pqw_client SET dead_at = now() WHERE id = 'client-killed'")
    table = await pqw(dsn, "clients", "list")
    assert table.code == 0
    header, row = table.out.splitlines()
    assert header.split()[:4] == ["ID", "WHERE", "STATE", "LEADER"]
    assert row.split()[:3] == ["client-test-1", "node-1:4242", "alive"]
    assert "default=5,persistent=2" in row
    live = (await pqw(dsn, "clients", "list", "--json")).json
    assert [(c["id"], c["alive"], c["queues"]) for c in live] == [
        ("client-test-1", True, {"default": 5, "persistent": 2})
    ]
    every = (await pqw(dsn, "clients", "list", "--all", "--json")).json
    assert sorted(c["id"] for c in every) == ["client-killed", "client-old", "client-test-1"]
    states = {
        line.split()[0]: line.split()[2]
        for line in (await pqw(dsn, "clients", "list", "--all")).out.splitlines()[1:]
    }
    assert states == {"client-test-1": "alive", "client-old": "stopped", "client-killed": "gone"}
    await conn.execute("DELETE FROM pqw_client")
    assert (await pqw(dsn, "clients", "list")).out == "no live clients\n"
