"""Unique jobs: each option, key order, period boundaries, state rules, races, and a model."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Client, InsertOpts, InvalidJobOption, Job, JobSpec, JobState, UniqueOpts, sql
from engine.jobs.unique import (
    DEFAULT_UNIQUE_STATES,
    mask_to_states,
    period_bucket,
    states_to_mask,
)
from tests.helpers import ROOT, subprocess_env


async def insert(
    client: Client, args: dict[str, Any], unique: UniqueOpts, **opts: Any
) -> tuple[int, bool]:
    result = await client.insert("u.kind", args, unique=unique, **opts)
    return result.job.id, result.duplicate


async def test_by_args_whole_args_key_order_does_not_matter(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()
    u = UniqueOpts(by_args=True)
    first, dup = await insert(client, {"a": 1, "b": {"x": 1, "y": 2}}, u)
    assert not dup
    again, dup = await insert(client, {"b": {"y": 2, "x": 1}, "a": 1}, u)
    assert dup and again == first
    other, dup = await insert(client, {"a": 2, "b": {"x": 1, "y": 2}}, u)
    assert not dup and other != first


async def test_by_args_chosen_keys_ignore_the_rest(make_client: Callable[..., Client]) -> None:
    client = make_client()
    u = UniqueOpts(by_args=["customer_id"])
    first, _ = await insert(client, {"customer_id": 7, "note": "x"}, u)
    same, dup = await insert(client, {"note": "y", "customer_id": 7}, u)
    assert dup and same == first
    _, dup = await insert(client, {"customer_id": 8, "note": "x"}, u)
    assert not dup


async def test_without_by_args_the_kind_alone_is_unique(make_client: Callable[..., Client]) -> None:
    client = make_client()
    u = UniqueOpts()
    first, _ = await insert(client, {"a": 1}, u)
    _, dup = await insert(client, {"a": 2}, u)
    assert dup
    other = await client.insert("another.kind", {"a": 1}, unique=u)
    assert not other.duplicate and other.job.id != first


async def test_by_queue(make_client: Callable[..., Client]) -> None:
    client = make_client()
    u = UniqueOpts(by_args=True, by_queue=True)
    _, dup = await insert(client, {"a": 1}, u, queue="q1")
    assert not dup
    _, dup = await insert(client, {"a": 1}, u, queue="q2")
    assert not dup
    _, dup = await insert(client, {"a": 1}, u, queue="q1")
    assert dup
    # Without by_queue, the queue does not matter.
    plain = UniqueOpts(by_args=True)
    _, dup = await insert(client, {"b": 1}, plain, queue="q1")
    _, dup = await insert(client, {"b": 1}, plain, queue="q2")
    assert dup


async def test_by_period_buckets_on_the_boundary(make_client: Callable[..., Client]) -> None:
    client = make_client()
    u = UniqueOpts(by_args=True, by_period=timedelta(hours=1))
    base = datetime(2031, 5, 1, 10, 0, tzinfo=UTC)
    at_start, _ = await insert(client, {"r": 1}, u, scheduled_at=base)
    last_microsecond, dup = await insert(
        client,
        {"r": 1},
        u,
        scheduled_at=base + timedelta(minutes=59, seconds=59, microseconds=999_999),
    )
    assert dup and last_microsecond == at_start
    _, dup = await insert(client, {"r": 1}, u, scheduled_at=base + timedelta(hours=1))
    assert not dup
    _, dup = await insert(client, {"r": 1}, u, scheduled_at=base - timedelta(microseconds=1))
    assert not dup
    assert period_bucket(base, timedelta(hours=1)) == int(base.timestamp())


def skewed_clock(offset: timedelta) -> type[datetime]:
    """A datetime whose now() is this host's clock off by `offset` (a host with skew)."""

    class Skewed(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + offset

    return Skewed


async def test_by_period_buckets_come_from_the_database_clock_so_skewed_hosts_agree(
    make_client: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two hosts, one 40 minutes fast and one 40 minutes slow, insert the same hourly
    unique job: one job, whatever their clocks say."""
    import engine.jobs.unique as unique_module

    ahead, behind = make_client(), make_client()
    u = UniqueOpts(by_args=True, by_period=timedelta(hours=1))
    await ahead.connect()
    for attempt in range(3):
        before = await ahead.pool.fetchval("SELECT now()")
        monkeypatch.setattr(unique_module, "datetime", skewed_clock(timedelta(minutes=40)))
        first = await ahead.insert("report.hourly", {"r": attempt}, unique=u)
        monkeypatch.setattr(unique_module, "datetime", skewed_clock(-timedelta(minutes=40)))
        second = await behind.insert("report.hourly", {"r": attempt}, unique=u)
        monkeypatch.undo()
        after = await ahead.pool.fetchval("SELECT now()")
        if period_bucket(before, u.by_period) == period_bucket(after, u.by_period):
            break  # (else the database's own hour turned between the inserts: try again)
    assert not first.duplicate
    assert second.duplicate and second.job.id == first.job.id
    # The database's bucket is the one an explicit time in that hour gives.
    at = first.job.scheduled_at
    third = await behind.insert("report.hourly", {"r": attempt}, unique=u, scheduled_at=at)
    assert third.duplicate and third.job.id == first.job.id


async def test_options_combined(make_client: Callable[..., Client]) -> None:
    client = make_client()
    u = UniqueOpts(by_args=["id"], by_period=timedelta(days=1), by_queue=True)
    day = datetime(2031, 1, 1, 12, tzinfo=UTC)
    a, _ = await insert(client, {"id": 1, "x": 1}, u, queue="a", scheduled_at=day)
    b, dup = await insert(
        client, {"id": 1, "x": 2}, u, queue="a", scheduled_at=day + timedelta(hours=5)
    )
    assert dup and b == a
    for changed in (
        ({"id": 2}, "a", day),
        ({"id": 1}, "b", day),
        ({"id": 1}, "a", day + timedelta(days=1)),
    ):
        _, dup = await insert(client, changed[0], u, queue=changed[1], scheduled_at=changed[2])
        assert not dup, changed


async def test_states_a_finished_job_blocks_by_default_but_not_when_left_out(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()
    default = UniqueOpts(by_args=True)
    job_id, _ = await insert(client, {"n": 1}, default)
    await client.pool.execute(
        "UPDATE pqw_job SET state = 'completed', finalized_at = now() WHERE id = $1", job_id
    )
    _, dup = await insert(client, {"n": 1}, default)
    assert dup  # completed blocks by default

    # The persistent-worker pattern: leave completed out, and a finished run can go again.
    live_only = UniqueOpts(
        by_args=True,
        by_state=[
            JobState.AVAILABLE,
            JobState.PENDING,
            JobState.RUNNING,
            JobState.SCHEDULED,
            JobState.RETRYABLE,
        ],
    )
    first, _ = await insert(client, {"n": 2}, live_only)
    await client.pool.execute(
        "UPDATE pqw_job SET state = 'completed', finalized_at = now() WHERE id = $1", first
    )
    second, dup = await insert(client, {"n": 2}, live_only)
    assert not dup and second != first

    # Cancelled and discarded jobs never block.
    await client.pool.execute(
        "UPDATE pqw_job SET state = 'cancelled', finalized_at = now() WHERE id = $1", second
    )
    _, dup = await insert(client, {"n": 2}, live_only)
    assert not dup


def test_custom_states_must_keep_the_waiting_and_running_ones() -> None:
    from engine.jobs.unique import unique_states_mask

    with pytest.raises(InvalidJobOption, match="missing: pending, running"):
        unique_states_mask([JobState.AVAILABLE, JobState.SCHEDULED])
    with pytest.raises(
        InvalidJobOption,
        match="must include available, pending, running and scheduled; missing: available",
    ):
        unique_states_mask([JobState.PENDING, JobState.RUNNING, JobState.SCHEDULED])
    with pytest.raises(InvalidJobOption, match="unique by_state"):
        unique_states_mask(["available", "nonsense"])
    assert mask_to_states(unique_states_mask(None)) == DEFAULT_UNIQUE_STATES
    everything = unique_states_mask(list(JobState))
    assert everything == "11111111" and states_to_mask(mask_to_states(everything)) == everything


async def test_bad_states_fail_before_anything_is_written(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()
    await client.connect()
    with pytest.raises(InvalidJobOption, match="missing: running"):
        await client.insert(
            "k",
            {},
            unique=UniqueOpts(by_state=[JobState.AVAILABLE, JobState.PENDING, JobState.SCHEDULED]),
        )
    assert await client.pool.fetchval("SELECT count(*) FROM pqw_job") == 0


async def test_kind_default_unique(make_client: Callable[..., Client]) -> None:
    client = make_client()

    @client.job("report.build", unique=UniqueOpts(by_args=True))
    async def build(job: object) -> None: ...

    first = await build.enqueue({"report": "daily"})
    second = await build.enqueue({"report": "daily"})
    assert second.duplicate and second.job.id == first.job.id


async def test_insert_many_mixes_unique_and_plain_rows_and_reports_per_row(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()
    u = InsertOpts(unique=UniqueOpts(by_args=True))
    existing = await client.insert("u", {"k": 1}, opts=u)
    results = await client.insert_many(
        [
            JobSpec("u", {"k": 1}, u),  # duplicate of an existing job
            JobSpec("plain", {"k": 1}),
            JobSpec("u", {"k": 2}, u),  # new
            JobSpec("u", {"k": 2}, u),  # duplicate of the row before, in the same batch
            JobSpec("plain", {"k": 1}),  # plain rows are never duplicates
        ]
    )
    assert [r.duplicate for r in results] == [True, False, False, True, False]
    assert results[0].job.id == existing.job.id
    assert results[2].job.id == results[3].job.id
    assert results[1].job.id != results[4].job.id
    assert await client.pool.fetchval("SELECT count(*) FROM pqw_job") == 4
    # Every job given back, inserted or met, equals the stored one field by field.
    stored = {
        r["id"]: Job.from_record(r)
        for r in await client.pool.fetch(f"SELECT {sql.JOB_COLUMNS} FROM pqw_job")
    }
    assert [r.job for r in results] == [stored[r.job.id] for r in results]


async def test_retryable_job_meeting_a_live_duplicate_is_discarded_not_crashing_the_scheduler(
    make_client: Callable[..., Client],
) -> None:
    """Retryable left out of the states: a new job can take the key while the old one waits."""
    client = make_client(queues={})
    u = UniqueOpts(
        by_args=True,
        by_state=[JobState.AVAILABLE, JobState.PENDING, JobState.RUNNING, JobState.SCHEDULED],
    )
    await client.connect()
    old, _ = await insert(client, {"x": 1}, u)
    await client.pool.execute(
        "UPDATE pqw_job SET state = 'retryable', attempt = 1, scheduled_at = now() + interval '1 hour' WHERE id = $1",
        old,
    )
    new, dup = await insert(client, {"x": 1}, u)
    assert not dup
    await client.pool.execute("UPDATE pqw_job SET scheduled_at = now() WHERE id = $1", old)
    await client.start()  # the leader's scheduler now meets the conflict

    from tests.helpers import wait_for

    async def resolved() -> str | None:
        state = await client.pool.fetchval("SELECT state FROM pqw_job WHERE id = $1", old)
        return state if state != "retryable" else None

    assert await wait_for(resolved, timeout=10, message="the scheduler to decide") == "discarded"
    meta = await client.pool.fetchval("SELECT metadata FROM pqw_job WHERE id = $1", old)
    assert "another live job holds its unique key" in meta["discarded_reason"]
    assert await client.pool.fetchval("SELECT state FROM pqw_job WHERE id = $1", new) == "available"
    # The scheduler goes on working.
    later, _ = await insert(
        client, {"x": 2}, UniqueOpts(by_args=True), scheduled_at=datetime.now(UTC)
    )
    assert later


RACER = """
import asyncio, sys
from engine import Client, UniqueOpts
async def main():
    client = Client(sys.argv[1], auto_migrate=False)
    await client.connect()
    results = await asyncio.gather(*(client.insert("race.job", {"order": 42}, unique=UniqueOpts(by_args=True)) for _ in range(50)))
    print(sum(not r.duplicate for r in results), flush=True)
    await client.close()
asyncio.run(main())
"""


async def test_eight_processes_racing_fifty_inserts_each_leave_exactly_one_row(
    make_client: Callable[..., Client], dsn: str
) -> None:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RACER,
            dsn,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=subprocess_env(),
            cwd=ROOT,
        )
        for _ in range(8)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    assert all(p.returncode == 0 for p in procs), outputs
    inserted = sum(int(out.decode().strip()) for out, _ in outputs)
    assert inserted == 1  # exactly one insert won across 400
    client = make_client()
    await client.connect()
    assert await client.pool.fetchval("SELECT count(*) FROM pqw_job WHERE kind = 'race.job'") == 1


# --- a property: the database agrees with a simple in-memory model of the rules -------------

keys = st.sampled_from(["a", "b", "c"])
small_args = st.dictionaries(keys, st.integers(0, 2), max_size=3)
unique_options = st.builds(
    UniqueOpts,
    by_args=st.one_of(st.just(True), st.just(False), st.lists(keys, max_size=2, unique=True)),
    by_queue=st.booleans(),
    by_period=st.one_of(st.none(), st.just(timedelta(hours=1))),
)
inserts = st.lists(
    st.tuples(small_args, st.sampled_from(["q1", "q2"]), st.sampled_from([0, 30, 90])),
    min_size=1,
    max_size=12,
)


def model_key(args: dict[str, Any], queue: str, minutes: int, opts: UniqueOpts) -> tuple[Any, ...]:
    if opts.by_args is True:
        chosen: Any = tuple(sorted(args.items()))
    elif opts.by_args:
        chosen = tuple(sorted((k, args[k]) for k in opts.by_args if k in args))
    else:
        chosen = None
    return (
        chosen,
        queue if opts.by_queue else None,
        (minutes // 60) if opts.by_period else None,
    )


_model_clients: dict[int, Client] = {}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(opts=unique_options, batch=inserts)
async def test_the_database_agrees_with_a_model_of_the_rules(
    make_client: Callable[..., Client],
    opts: UniqueOpts,
    batch: list[tuple[dict[str, Any], str, int]],
) -> None:
    # One client for every example (hypothesis shares the fixture between them).
    client = _model_clients.get(id(make_client)) or make_client()
    _model_clients[id(make_client)] = client
    await client.connect()
    await client.pool.execute("TRUNCATE pqw_job")
    base = datetime(2032, 1, 1, tzinfo=UTC)
    seen: dict[tuple[Any, ...], int] = {}
    for args, queue, minutes in batch:
        result = await client.insert(
            "model.kind",
            args,
            queue=queue,
            scheduled_at=base + timedelta(minutes=minutes),
            unique=opts,
        )
        key = model_key(args, queue, minutes, opts)
        if key in seen:
            assert result.duplicate and result.job.id == seen[key]
        else:
            assert not result.duplicate
            seen[key] = result.job.id
    assert await client.pool.fetchval("SELECT count(*) FROM pqw_job") == len(seen)


@settings(max_examples=50, deadline=None)
@given(
    args=st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5))),
    by_args=st.one_of(st.just(True), st.just(False), st.lists(st.text(max_size=5), max_size=2)),
    by_queue=st.booleans(),
    kind=st.text(min_size=1, max_size=8),
)
def test_a_period_key_is_the_canonical_json_of_its_parts(
    args: dict[str, Any], by_args: Any, by_queue: bool, kind: str
) -> None:
    """Keys whose bucket the database fills in are the keys pqw always made."""
    import hashlib

    from engine.jobs.unique import canonical_json, unique_key

    opts = UniqueOpts(by_args=by_args, by_queue=by_queue, by_period=timedelta(minutes=5))
    at = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    parts: dict[str, Any] = {"kind": kind, "period": period_bucket(at, timedelta(minutes=5))}
    if by_args is True:
        parts["args"] = args
    elif by_args:
        parts["args"] = {k: args[k] for k in by_args if k in args}
    if by_queue:
        parts["queue"] = "q"
    expected = hashlib.sha256(canonical_json(parts).encode()).digest()
    assert unique_key(kind, args, "q", at, opts) == expected
