"""`pqw workers ...` (and its alias `pqw persistent ...`): list, show, lifecycle, config."""

from __future__ import annotations

import asyncpg

from tests.cli.runner import pqw
from tests.tui.seed import WORKER_SCHEMA, add_running_worker, add_worker, worker_row


async def test_list_and_show_a_worker(dsn: str, conn: asyncpg.Connection) -> None:
    await add_running_worker(conn, "feed", schema=WORKER_SCHEMA, config={"interval": 5})
    table = await pqw(dsn, "workers", "list")
    assert table.code == 0
    header, row = table.out.splitlines()
    assert header.split()[:3] == ["NAME", "STATUS", "WHERE"]
    assert row.split()[:3] == ["feed", "running", "node-1:4242"] and "minute" in row
    listed = await pqw(dsn, "persistent", "list", "--json")
    assert [(w["name"], w["status"], w["config"]) for w in listed.json] == [
        ("feed", "running", {"interval": 5})
    ]

    shown = await pqw(dsn, "workers", "show", "feed")
    assert shown.code == 0
    first = shown.out.splitlines()[0]
    assert first.startswith("feed  running on node-1:4242 for ") and "minute" in first
    assert 'config       v1 {"interval":5}' in shown.out
    assert "(every 10 minutes, lost after 1 hour)" in shown.out  # not "an hour"
    # Its run is live: the next one is that run, not a time already past.
    (next_run,) = [line for line in shown.out.splitlines() if line.startswith("next run")]
    assert next_run.split(None, 2)[2].startswith("- (its run is job ") and "ago" not in next_run
    doc = (await pqw(dsn, "workers", "show", "feed", "--json")).json
    assert doc["name"] == "feed" and doc["where"] == "node-1:4242" and doc["uptime"] >= 90
    assert doc["config_schema"] == WORKER_SCHEMA

    missing = await pqw(dsn, "workers", "show", "nobody", "--json")
    assert (missing.code, missing.out) == (1, "")
    assert missing.err == "pqw: error: no persistent worker named 'nobody'\n"
    unnamed = await pqw(dsn, "workers", "show")
    assert unnamed.code == 2 and "a worker name is required" in unnamed.err
    empty = await pqw(dsn, "workers", "list", "--json")
    assert empty.code == 0


async def test_stop_start_restart_and_delete(dsn: str, conn: asyncpg.Connection) -> None:
    await add_running_worker(conn, "feed")
    stopped = await pqw(dsn, "workers", "stop", "feed")
    assert (stopped.code, stopped.out) == (0, "feed: stop requested\n")
    assert not (await worker_row(conn, "feed"))["enabled"]
    started = await pqw(dsn, "persistent", "start", "feed", "--json")
    assert started.json == {"name": "feed", "action": "start"}
    assert (await worker_row(conn, "feed"))["enabled"]
    restarted = await pqw(dsn, "workers", "restart", "feed", "--json")
    assert restarted.json == {"name": "feed", "action": "restart"}
    assert (await worker_row(conn, "feed"))["restart_requested_at"] is not None
    assert (await pqw(dsn, "workers", "stop", "nobody")).code == 1

    # A live client defines feed: deleting it is refused, saying why; a leftover goes.
    kept = await pqw(dsn, "workers", "delete", "feed")
    assert kept.code == 1 and "is defined by live client(s)" in kept.err
    await add_worker(conn, "renamed", enabled=False)
    deleted = await pqw(dsn, "workers", "delete", "renamed", "--json")
    assert deleted.json == {"name": "renamed", "action": "delete"}
    assert await worker_row(conn, "renamed") is None


async def test_config_is_validated_and_a_refused_one_changes_nothing(
    dsn: str, conn: asyncpg.Connection
) -> None:
    await add_running_worker(conn, "feed", schema=WORKER_SCHEMA, config={"interval": 5})
    changed = await pqw(dsn, "workers", "config", "feed", "--set", "interval=30")
    assert (changed.code, changed.out) == (0, "feed: config v2\n")
    # The schema says url is text: kept as typed, the other keys as they were.
    keyed = await pqw(dsn, "workers", "config", "feed", "--set", "url=12", "--json")
    assert keyed.json == {"name": "feed", "version": 3, "config": {"interval": 30, "url": "12"}}

    for argv in (
        ["--set", "interval=soon"],
        ["--set", "colour=red"],
        ["--json", '{"url": "x"}'],
        ["{not json"],
    ):
        refused = await pqw(dsn, "workers", "config", "feed", *argv)
        assert refused.code == 1 and "nothing changed" in refused.err, (argv, refused.err)
        assert refused.err.count("\n") == 1
    assert (await worker_row(conn, "feed"))["config"] == {"interval": 30, "url": "12"}

    whole = await pqw(dsn, "workers", "config", "feed", "--json", '{"interval": 7}')
    assert whole.json == {"name": "feed", "version": 4, "config": {"interval": 7}}
    legacy = await pqw(dsn, "persistent", "config", "feed", '{"interval": 8}')
    assert legacy.out == "feed: config v5\n"
    piped = await pqw(dsn, "workers", "config", "feed", "-", answer='{"interval": 9}')
    assert piped.out == "feed: config v6\n"
    assert (await worker_row(conn, "feed"))["config"] == {"interval": 9}

    for argv, said in (
        ([], "give --set key=value, or the new config"),
        (["{}", "--set", "a=1"], "not both"),
        (["--set", "interval"], "not key=value"),
    ):
        wrong = await pqw(dsn, "workers", "config", "feed", *argv)
        assert wrong.code == 2 and said in wrong.err, (argv, wrong.err)
    missing = await pqw(dsn, "workers", "config", "nobody", "--set", "a=1")
    assert missing.code == 1 and "no persistent worker named 'nobody'" in missing.err


async def test_what_a_worker_remembers_under_the_workers_name(
    dsn: str, conn: asyncpg.Connection
) -> None:
    await add_running_worker(conn, "feed")
    state = await pqw(dsn, "workers", "state", "feed", "--json")
    assert state.code == 0 and state.json["name"] == "feed" and state.json["state"] is None
    configs = await pqw(dsn, "workers", "configs", "feed", "--json")
    assert configs.code == 0 and isinstance(configs.json, list)
    history = await pqw(dsn, "workers", "history", "feed", "-n", "5")
    assert history.code == 0
    reset = await pqw(dsn, "workers", "reset-state", "feed")
    assert reset.code == 2 and "add --yes" in reset.err
    unnamed = await pqw(dsn, "workers", "logs")
    assert unnamed.code == 2 and "a worker name is required" in unnamed.err
