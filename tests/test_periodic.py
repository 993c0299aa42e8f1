"""Periodic schedules in one process: the job's own unique options, skipped ticks on the
record, rows any leader can keep, schedules nobody runs, and the database's clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from engine import Client, InvalidSchedule, Job, JobState, NotFound, UniqueOpts, every
from engine.admin import Admin, PeriodicInfo
from tests.helpers import run_pqw, wait_for

# River's recipe: unique while live, so a finished run lets the next tick insert again.
LIVE = [JobState.AVAILABLE, JobState.PENDING, JobState.RUNNING, JobState.RETRYABLE,
        JobState.SCHEDULED]  # fmt: skip


async def schedule(admin: Admin, schedule_id: str) -> PeriodicInfo:
    return next(p for p in await admin.list_periodic_jobs() if p.id == schedule_id)


async def jobs_of(client: Client, kind: str) -> list[Any]:
    return list(
        await client.pool.fetch(
            "SELECT id, state::text AS state FROM pqw_job WHERE kind = $1 ORDER BY id", kind
        )
    )


async def test_a_periodic_jobs_own_unique_options_hold_and_skipped_ticks_are_on_record(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    """Before: the enqueuer replaced them with a per-tick key, and every tick started a copy."""
    client = make_client(queues={"default": 4})
    client.periodic(
        "recipe.loop",
        every(1),
        run_on_start=True,
        unique=UniqueOpts(by_period=timedelta(hours=24), by_state=LIVE),
    )
    copies: list[int] = []
    release = asyncio.Event()

    @client.job("recipe.loop")
    async def loop(job: Job) -> None:
        copies.append(job.id)
        while not job.stopping and not release.is_set():
            await job.sleep(0.05)

    await client.start()

    async def skipped_three_times() -> PeriodicInfo | None:
        info = await schedule(admin, "recipe.loop")
        # Ticks are skipped from the insert on; the handler may start a moment later.
        return info if info.skips >= 3 and copies else None

    info = await wait_for(skipped_three_times, timeout=20, message="three skipped ticks")
    (first,) = await jobs_of(client, "recipe.loop")
    assert copies == [first["id"]] and info.last_outcome == "skipped"
    assert info.last_job_id == first["id"] and info.note == f"skipped: job {first['id']} still live"
    # The run returns: the next tick inserts the next one.
    release.set()

    async def next_run() -> list[Any]:
        rows = await jobs_of(client, "recipe.loop")
        # Inserted is not yet started: wait for the second handler too.
        return rows if len(rows) == 2 and len(copies) == 2 else []

    rows = await wait_for(next_run, timeout=10, message="the next tick's run")
    assert rows[0]["state"] == "completed" and copies == [r["id"] for r in rows]
    info = await schedule(admin, "recipe.loop")
    assert info.last_job_id == rows[1]["id"]


async def test_a_kinds_unique_defaults_hold_for_a_schedule_defined_before_the_kind(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client(queues={"default": 4})
    client.periodic("kind.defaults", every(1), run_on_start=True)
    started = asyncio.Event()

    @client.job("kind.defaults", unique=UniqueOpts(by_state=LIVE))
    async def busy(job: Job) -> None:
        started.set()
        await job.stopped()

    await client.start()
    await asyncio.wait_for(started.wait(), 10)

    async def skipped() -> bool:
        return (await schedule(admin, "kind.defaults")).skips >= 2

    await wait_for(skipped, timeout=15, message="ticks skipped under the kind's unique options")
    assert len(await jobs_of(client, "kind.defaults")) == 1


class SkewedClock(datetime):
    """This host's clock, a day ahead of the database's."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return datetime.now(tz) + timedelta(days=1)


async def test_a_skewed_host_clock_does_not_move_a_schedules_first_run(
    make_client: Callable[..., Client], admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the first run came from the host clock; run_on_start waited a day."""
    import engine.jobs.unique
    import engine.maintenance.periodic
    import engine.schedules

    for module in (engine.maintenance.periodic, engine.jobs.unique, engine.schedules):
        monkeypatch.setattr(module, "datetime", SkewedClock)
    client = make_client(queues={"default": 2})
    day = UniqueOpts(by_period=timedelta(days=1), by_state=LIVE)
    client.periodic("on.start", every(timedelta(hours=1)), run_on_start=True, unique=day)
    client.periodic("hourly", every(timedelta(hours=1)))

    @client.job("on.start")
    async def on_start(job: Job) -> None:
        await job.stopped()

    await client.start()
    db_now: datetime = await client.pool.fetchval("SELECT now()")
    await wait_for(lambda: jobs_of(client, "on.start"), timeout=10, message="the run on start")
    hourly = await schedule(admin, "hourly")
    assert db_now < hourly.next_run_at <= db_now + timedelta(hours=1)
    # Its unique bucket is the scheduled time's day, not the host's: an insert for
    # today by the database's clock meets it.
    today = await client.insert("on.start", {}, unique=day, scheduled_at=db_now)
    assert today.duplicate


async def test_a_schedule_no_live_client_can_run_is_marked(
    make_client: Callable[..., Client], admin: Admin, dsn: str
) -> None:
    client = make_client(queues={"default": 1})
    client.periodic("nobody.runs", every(timedelta(hours=1)))  # no handler anywhere
    client.periodic("other.queue", every(timedelta(hours=1)), queue="reports")
    client.periodic("runs.here", every(timedelta(hours=1)))

    @client.job("runs.here")
    async def here(job: Job) -> None: ...

    @client.job("other.queue")
    async def other(job: Job) -> None: ...

    await client.start()
    by_id = {p.id: p for p in await admin.list_periodic_jobs()}
    assert by_id["nobody.runs"].runners == 0
    assert by_id["nobody.runs"].note == "no live client runs kind nobody.runs in queue default"
    # Registered, but no live client works its queue.
    assert by_id["other.queue"].note == "no live client runs kind other.queue in queue reports"
    assert by_id["runs.here"].runners == 1 and by_id["runs.here"].note is None
    result = await asyncio.to_thread(run_pqw, "periodic", "list", "--dsn", dsn)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("nobody.runs"))
    assert "every 3600s" in line and "no live client runs kind nobody.runs" in line
    await client.stop()
    after = await schedule(admin, "runs.here")
    assert after.runners == 0 and after.note is not None


async def test_an_unreadable_schedule_row_is_marked_and_the_others_keep_running(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client(queues={"default": 2})
    client.periodic("healthy", every(1), run_on_start=True)

    @client.job("healthy")
    async def healthy(job: Job) -> None: ...

    await client.connect()
    await client.pool.execute(
        "INSERT INTO pqw_periodic_job (id, kind, schedule, spec, next_run_at) VALUES "
        "('hand.made', 'k', 'every 5s', '{\"every\": 0.1}', now()), "
        "('no.spec', 'k', 'sometimes', NULL, now())"
    )
    await client.start()

    async def refused() -> dict[str, PeriodicInfo] | None:
        by_id = {p.id: p for p in await admin.list_periodic_jobs()}
        ok = by_id["hand.made"].last_error and by_id["no.spec"].last_error
        return by_id if ok and by_id["healthy"].last_run_at else None

    by_id = await wait_for(refused, timeout=10, message="the bad rows to be marked")
    assert "at least one second" in (by_id["hand.made"].note or "")
    assert "has no stored form" in (by_id["no.spec"].note or "")
    assert by_id["healthy"].note is None
    with pytest.raises(InvalidSchedule, match="every"):
        client.periodic("custom", object())  # type: ignore[arg-type]


async def test_an_operator_deletes_a_schedule_no_code_defines(
    make_client: Callable[..., Client], admin: Admin, dsn: str
) -> None:
    client = make_client()
    client.periodic("gone.from.code", every(timedelta(hours=1)))
    await client.start()
    await client.stop()
    result = await asyncio.to_thread(run_pqw, "periodic", "delete", "gone.from.code", "--dsn", dsn)
    assert result.returncode == 0 and "gone.from.code: deleted" in result.stdout
    assert await admin.list_periodic_jobs() == []
    with pytest.raises(NotFound):
        await admin.delete_periodic("gone.from.code")
    result = await asyncio.to_thread(run_pqw, "periodic", "disable", "nope", "--dsn", dsn)
    assert result.returncode == 1 and "no periodic schedule with id 'nope'" in result.stderr


async def test_schedules_written_before_they_were_stored_whole_are_read_from_their_text(
    bare_dsn: str,
) -> None:
    from engine.db import migrate
    from engine.db.pool import connect
    from engine.maintenance.periodic_row import StoredSchedule

    conn = await connect(bare_dsn)
    try:
        await migrate.migrate_up(conn, target=3)
        await conn.execute(
            "INSERT INTO pqw_periodic_job (id, kind, schedule, opts, next_run_at) VALUES "
            "('a', 'k', 'every 30s', '{\"queue\": null, \"max_attempts\": 3}', now()), "
            "('b', 'k', 'every 1e+06s', '{}', now()), "
            "('c', 'k', 'cron 0 2 * * * Europe/Berlin', '{}', now()), "
            "('d', 'k', 'something else', '{}', now())"
        )
        await migrate.migrate_up(conn)
        rows = {r["id"]: r for r in await conn.fetch("SELECT * FROM pqw_periodic_job")}
    finally:
        await conn.close()
    a, b, c = (StoredSchedule.from_row(rows[x]) for x in "abc")
    assert a.schedule == every(30) and a.opts.max_attempts == 3 and a.opts.unique is None
    assert b.schedule == every(1_000_000)
    assert c.schedule.describe() == "cron 0 2 * * * Europe/Berlin"
    with pytest.raises(InvalidSchedule, match="no stored form"):
        StoredSchedule.from_row(rows["d"])
