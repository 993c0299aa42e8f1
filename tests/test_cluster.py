"""Leadership, periodic schedules, pause/resume and the client registry across real processes."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from engine import Client, JobState, Retention
from engine.admin import Admin
from tests.clients import FAST
from tests.helpers import wait_for
from tests.processes import Workers, database_activity, registered


async def leader_id(db: asyncpg.Connection) -> str | None:
    return await db.fetchval("SELECT leader_id FROM pqw_leader WHERE expires_at > now()")


async def acting_sequence(db: asyncpg.Connection) -> list[str]:
    """Who acted as leader, in the order the acts happened, runs collapsed."""
    rows = await db.fetch(
        "SELECT detail->>'client' AS client FROM test_event WHERE event = 'leader-act' ORDER BY at, id"
    )
    sequence: list[str] = []
    for r in rows:
        if not sequence or sequence[-1] != r["client"]:
            sequence.append(r["client"])
    return sequence


async def two_workers(db: asyncpg.Connection, workers: Workers, **env: str) -> dict[str, int]:
    procs = [workers.spawn(**env), workers.spawn(**env)]
    for proc in procs:
        await workers.ready(proc)
    ids = {await registered(db, p.pid): p.pid for p in procs}
    await wait_for(lambda: leader_id(db), timeout=30, message="a leader")
    return ids


async def test_killing_the_leader_hands_over_within_the_lease(
    db: asyncpg.Connection, workers: Workers
) -> None:
    pids = await two_workers(db, workers)
    old = await leader_id(db)
    assert old in pids
    await wait_for(lambda: acting_sequence(db), timeout=10, message="the leader to act")
    killed_at = await db.fetchval("SELECT clock_timestamp()")
    workers.kill(pids[old])

    async def new_leader() -> str | None:
        current = await leader_id(db)
        return current if current not in (None, old) else None

    new = await wait_for(new_leader, timeout=FAST.leader_ttl + 10, message="a new leader")
    elected = await db.fetchval("SELECT elected_at FROM pqw_leader")
    # Within the lease, plus one renewal interval for the survivor to try again.
    assert (
        elected - killed_at
    ).total_seconds() < FAST.leader_ttl + FAST.leader_renew_interval + 0.5
    await wait_for(lambda: _acted_last(db, new), timeout=10, message="the new leader to act")
    assert await acting_sequence(db) == [old, new]


async def _acted_last(db: asyncpg.Connection, client_id: str) -> bool:
    sequence = await acting_sequence(db)
    return bool(sequence) and sequence[-1] == client_id


@pytest.mark.parametrize("timeouts", ["transaction_timeout", "before-17"])
async def test_a_frozen_leader_never_acts_after_it_is_replaced(
    db: asyncpg.Connection, workers: Workers, timeouts: str
) -> None:
    """SIGSTOP the leader past its lease (a long GC pause, a partition), then let it go on.

    Wherever the freeze lands (even between the Parse and the Bind of a statement
    inside a fenced transaction), the other client is elected within a few leases:
    with transaction_timeout on this server, and with the bounds of servers before 17.
    """
    env = {"PQW_TEST_LEADER_TIMEOUTS": timeouts}
    try:
        await _frozen_leader_is_replaced(db, workers, env)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{workers.logs()}") from exc


async def _frozen_leader_is_replaced(
    db: asyncpg.Connection, workers: Workers, env: dict[str, str]
) -> None:
    pids = await two_workers(db, workers, **env)
    old = await leader_id(db)
    assert old is not None
    await wait_for(lambda: acting_sequence(db), timeout=10, message="the leader to act")
    os.kill(pids[old], signal.SIGSTOP)
    try:

        async def replaced() -> str | None:
            current = await leader_id(db)
            return current if current not in (None, old) else None

        new = await wait_for(replaced, timeout=FAST.leader_ttl * 3 + 10, message="a new leader")
        await wait_for(lambda: _acted_last(db, new), timeout=10, message="the new leader to act")
    except AssertionError as exc:
        # What holds the election up, seen while the old leader is still frozen.
        raise AssertionError(f"{exc}\n{await database_activity(db)}") from exc
    finally:
        os.kill(pids[old], signal.SIGCONT)
    # The old leader wakes up believing nothing happened; it must not act again.
    resumed_at = await db.fetchval("SELECT clock_timestamp()")

    async def old_caught_up() -> bool:
        # It heartbeats again once it has noticed the time that passed.
        seen = await db.fetchval("SELECT heartbeat_at FROM pqw_client WHERE id = $1", old)
        return bool(seen > resumed_at)

    await wait_for(old_caught_up, timeout=20, message="the old leader to run again")
    await wait_for(lambda: _acted_last(db, new), timeout=10, message="more acts by the new leader")
    assert await acting_sequence(db) == [old, new]
    assert await leader_id(db) == new


async def test_a_leader_that_stops_cleanly_hands_over_at_once(
    db: asyncpg.Connection, workers: Workers
) -> None:
    pids = await two_workers(db, workers)
    old = await leader_id(db)
    assert old is not None
    proc = next(p for p in workers.procs if p.pid == pids[old])
    assert await asyncio.to_thread(workers.terminate, proc) == 0
    stopped_at = await db.fetchval("SELECT stopped_at FROM pqw_client WHERE id = $1", old)

    async def other() -> str | None:
        current = await leader_id(db)
        return current if current not in (None, old) else None

    await wait_for(other, timeout=10, message="a new leader")
    elected = await db.fetchval("SELECT elected_at FROM pqw_leader")
    # Resigned and notified: no waiting for the lease to run out.
    assert (elected - stopped_at).total_seconds() < FAST.leader_ttl / 2, workers.logs()


def tick_times(rows: list[asyncpg.Record]) -> list[datetime]:
    return [datetime.fromisoformat(r["detail"]["scheduled_for"]) for r in rows]


async def ticks(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM test_event WHERE event = 'tick' ORDER BY id")


async def test_a_periodic_schedule_survives_restarting_every_client(
    db: asyncpg.Connection, workers: Workers
) -> None:
    """A rolling restart replaces every client; the grid of runs has no gap and no double."""
    period = 2.0
    env = {"PQW_TEST_PERIODIC": str(period)}
    first = workers.spawn(**env)
    await registered(db, first.pid)
    await wait_for(lambda: _at_least(ticks(db), 2), timeout=30, message="two ticks")
    for _ in range(2):  # replace every process, one after the other
        newcomer = workers.spawn(**env)
        await registered(db, newcomer.pid)
        old = next(p for p in workers.procs if p.poll() is None and p.pid != newcomer.pid)
        assert await asyncio.to_thread(workers.terminate, old) == 0
        count = len(await ticks(db))
        await wait_for(
            lambda count=count: _at_least(ticks(db), count + 2), timeout=30, message="more ticks"
        )
    times = tick_times(await ticks(db))
    assert len(times) == len(set(times)), "a run was inserted twice"
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
    assert steps == {period}, f"runs missed: {times}"
    # Every run was inserted exactly once, whichever process was leader at the time.
    jobs = await db.fetchval("SELECT count(*) FROM pqw_job WHERE kind = 'test.tick'")
    assert jobs == len(times)


async def _at_least(rows: Any, n: int) -> bool:
    return len(await rows) >= n


async def test_a_schedule_defined_only_on_a_client_that_is_not_leader_keeps_running(
    db: asyncpg.Connection, workers: Workers, admin: Admin
) -> None:
    """Before: the leader enqueued only the schedules it defined itself, and this one
    stopped without a word (a rolling deploy, or one service defining what another leads)."""
    leader = workers.spawn()  # defines no schedule
    leader_client = await registered(db, leader.pid)
    await wait_for(lambda: _is_leader(db, leader_client), timeout=30, message="the first leader")
    definer = workers.spawn(PQW_TEST_PERIODIC="1")
    await registered(db, definer.pid)
    await wait_for(lambda: _at_least(ticks(db), 3), timeout=30, message="ticks")
    # The definer goes away for good; the leader keeps the schedule from its row.
    assert await asyncio.to_thread(workers.terminate, definer) == 0
    count = len(await ticks(db))
    await wait_for(lambda: _at_least(ticks(db), count + 2), timeout=30, message="more ticks")
    assert await leader_id(db) == leader_client, "the test needs the leader not to change"
    times = tick_times(await ticks(db))
    assert len(times) == len(set(times)), "a run was inserted twice"
    (info,) = await admin.list_periodic_jobs()
    assert info.id == "test.tick" and info.runners == 1 and info.note is None


async def _is_leader(db: asyncpg.Connection, client_id: str) -> bool:
    return await leader_id(db) == client_id


async def test_missed_runs_are_caught_up_once_not_n_times(db: asyncpg.Connection, dsn: str) -> None:
    from engine import every

    client = Client(dsn, auto_migrate=False, maintenance=FAST)
    client.periodic("catch.up", every(timedelta(seconds=1)))
    await client.connect()
    # Nobody was up for a minute: sixty runs were missed.
    await client.pool.execute(
        "INSERT INTO pqw_periodic_job (id, kind, schedule, next_run_at) "
        "VALUES ('catch.up', 'catch.up', 'every 1s', date_trunc('second', now()) - interval '60 seconds')"
    )
    await client.start()
    try:

        async def inserted() -> int:
            return int(
                await client.pool.fetchval("SELECT count(*) FROM pqw_job WHERE kind = 'catch.up'")
            )

        await wait_for(inserted, timeout=10, message="the catch-up run")
        first = await client.pool.fetchrow(
            "SELECT metadata, (SELECT next_run_at FROM pqw_periodic_job) AS next FROM pqw_job WHERE kind = 'catch.up' ORDER BY id LIMIT 1"
        )
        # One run for the missed time, and the schedule jumps to the next second from now.
        assert first["next"] > datetime.now(UTC) - timedelta(seconds=2)
        assert await inserted() <= 3  # the catch-up run plus at most the next regular ones
    finally:
        await client.stop()


async def test_bad_cron_strings_and_zones_fail_at_definition() -> None:
    from engine import InvalidSchedule, cron, every

    with pytest.raises(InvalidSchedule, match="invalid cron expression '61 \\* \\* \\* \\*'"):
        cron("61 * * * *")
    with pytest.raises(InvalidSchedule, match="unknown time zone 'Mars/Olympus'"):
        cron("0 2 * * *", tz="Mars/Olympus")
    with pytest.raises(InvalidSchedule, match="at least one second"):
        every(0.5)
    nightly = cron("0 2 * * *", tz="Europe/Berlin")
    # 02:00 in Berlin is 01:00 UTC in winter.
    assert nightly.next_after(datetime(2031, 1, 10, 12, tzinfo=UTC)) == datetime(
        2031, 1, 11, 1, tzinfo=UTC
    )
    assert every(timedelta(minutes=5)).next_after(
        datetime(2031, 1, 1, 0, 4, 59, tzinfo=UTC)
    ) == datetime(2031, 1, 1, 0, 5, tzinfo=UTC)


async def test_run_on_start_and_disabling_a_schedule(
    make_client: Callable[..., Client], dsn: str
) -> None:
    from engine import every

    client = make_client()
    client.periodic("hourly.report", every(timedelta(hours=1)), run_on_start=True, args={"r": 1})
    await client.start()

    async def runs() -> int:
        return int(
            await client.pool.fetchval("SELECT count(*) FROM pqw_job WHERE kind = 'hourly.report'")
        )

    await wait_for(runs, timeout=10, message="the run on start")
    admin = await Admin.connect(dsn)
    try:
        schedules = await admin.list_periodic_jobs()
        assert [(p.id, p.enabled, p.schedule) for p in schedules] == [
            ("hourly.report", True, "every 3600s")
        ]
        await admin.disable_periodic("hourly.report")
        assert not (await admin.list_periodic_jobs())[0].enabled
        await admin.enable_periodic("hourly.report")
        from engine import NotFound

        with pytest.raises(NotFound):
            await admin.disable_periodic("nope")
    finally:
        await admin.close()
    assert await runs() == 1


async def test_pause_and_resume_take_effect_across_processes(
    db: asyncpg.Connection, workers: Workers, dsn: str
) -> None:
    proc = workers.spawn(queues="extra=2")
    await registered(db, proc.pid)
    admin = await Admin.connect(dsn)
    inserter = Client(dsn, auto_migrate=False)
    try:
        await admin.pause_queue("default")
        paused = (await inserter.insert("test.record", {"n": "paused"})).job
        # A job in another queue runs: the worker is alive and past the pause.
        probe = (await inserter.insert("test.record", {"n": "probe"}, queue="extra")).job

        async def ran(job_id: int) -> bool:
            return bool(
                await db.fetchval("SELECT count(*) FROM test_event WHERE job_id = $1", job_id)
            )

        await wait_for(lambda: ran(probe.id), timeout=10, message="the probe job")
        assert (await admin.get_job(paused.id)).state is JobState.AVAILABLE
        counts = {q.queue: q for q in await admin.queue_state_counts()}
        assert counts["default"].paused and not counts["extra"].paused

        resumed_at = await db.fetchval("SELECT clock_timestamp()")
        await admin.resume_queue("default")
        await wait_for(lambda: ran(paused.id), timeout=5, message="the paused job to run")
        started = await db.fetchval("SELECT at FROM test_event WHERE job_id = $1", paused.id)
        assert (started - resumed_at).total_seconds() < 1.0
    finally:
        await inserter.close()
        await admin.close()


async def test_the_cleaner_removes_what_it_should_and_nothing_else(dsn: str) -> None:
    config = dataclasses.replace(
        FAST,
        retention=Retention(
            completed=timedelta(hours=1), cancelled=timedelta(hours=2), discarded=None
        ),
    )
    client = Client(dsn, auto_migrate=False, maintenance=config)
    await client.connect()
    pool = client.pool
    for state in ("completed", "cancelled", "discarded"):
        for age in ("30 minutes", "90 minutes", "3 hours", "30 days"):
            await pool.execute(
                "INSERT INTO pqw_job (kind, max_attempts, state, finalized_at, args) "
                f"VALUES ('old', 1, '{state}', now() - interval '{age}', jsonb_build_object('age', '{age}'))"
            )
    for state in ("available", "retryable", "scheduled"):
        await pool.execute(
            f"INSERT INTO pqw_job (kind, max_attempts, state, created_at) VALUES ('live', 1, '{state}', now() - interval '30 days')"
        )
    await client.start()
    try:

        async def remaining() -> set[tuple[str, str]]:
            rows = await pool.fetch(
                "SELECT state, args->>'age' AS age FROM pqw_job WHERE kind = 'old'"
            )
            return {(r["state"], r["age"]) for r in rows}

        expected = {
            ("completed", "30 minutes"),
            ("cancelled", "30 minutes"),
            ("cancelled", "90 minutes"),
        } | {("discarded", age) for age in ("30 minutes", "90 minutes", "3 hours", "30 days")}

        async def cleaned() -> bool:
            return await remaining() == expected

        await wait_for(cleaned, timeout=10, message="the cleaner")
        assert await pool.fetchval("SELECT count(*) FROM pqw_job WHERE kind = 'live'") == 3
    finally:
        await client.stop()


async def test_a_killed_client_is_marked_dead(
    db: asyncpg.Connection, workers: Workers, dsn: str
) -> None:
    survivor = workers.spawn()
    victim = workers.spawn()
    await registered(db, survivor.pid)
    victim_id = await registered(db, victim.pid)
    workers.kill(victim.pid)

    async def dead() -> bool:
        return bool(
            await db.fetchval("SELECT dead_at IS NOT NULL FROM pqw_client WHERE id = $1", victim_id)
        )

    await wait_for(dead, timeout=20, message="the dead mark")
    admin = await Admin.connect(dsn)
    try:
        clients = {c.id: c for c in await admin.list_clients()}
        assert not clients[victim_id].alive
        assert any(c.alive and c.pid == survivor.pid for c in clients.values())
    finally:
        await admin.close()


async def test_rescuer_cancels_a_job_whose_cancel_was_asked_and_whose_runner_is_gone(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()
    await client.connect()
    job = (await client.insert("orphaned.work", {}, max_attempts=5)).job
    # Its runner died while an operator's cancellation was on its way.
    await client.pool.execute(
        "UPDATE pqw_job SET state = 'running', attempt = 1, attempted_by = '{gone-client}', "
        "heartbeat_at = now() - interval '1 hour', heartbeat_timeout = interval '5 seconds' "
        "WHERE id = $1",
        job.id,
    )
    await admin.cancel_job(job.id)
    await client.start()

    async def cancelled() -> bool:
        return (await admin.get_job(job.id)).state is JobState.CANCELLED

    await wait_for(cancelled, timeout=10, message="the rescuer to cancel it")
    errors = (await admin.get_job(job.id)).errors
    assert "rescued: client gone-client stopped heartbeating" in errors[-1]["error"]


async def test_long_gone_clients_are_pruned(dsn: str) -> None:
    config = dataclasses.replace(FAST, client_prune_after=1.0)
    client = Client(dsn, auto_migrate=False, maintenance=config)
    await client.connect()
    await client.pool.execute(
        "INSERT INTO pqw_client (id, host, pid, stopped_at) VALUES "
        "('old-stopped', 'h', 1, now() - interval '1 hour'), ('just-stopped', 'h', 2, now())"
    )
    await client.start()
    try:

        async def pruned() -> bool:
            ids = {r["id"] for r in await client.pool.fetch("SELECT id FROM pqw_client")}
            return "old-stopped" not in ids

        await wait_for(pruned, timeout=10, message="the old client to be pruned")
        alive = await client.pool.fetchval(
            "SELECT count(*) FROM pqw_client WHERE id = $1", client.id
        )
        assert alive == 1
    finally:
        await client.stop()
