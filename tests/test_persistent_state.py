"""Checkpoints: the next run starts from the last one; a run without its lease cannot
write over its successor's; bad states are refused; operators read and reset them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from engine import Client, InvalidCheckpoint, LeaseLost, PersistentContext
from engine.admin import Admin, InvalidJobOption, WorkerStatus
from engine.persistent.memory import MAX_STATE_BYTES
from tests.helpers import wait_for


class Counter:
    """Counts on from ctx.state, checkpointing every step until told to stop."""

    def __init__(self) -> None:
        self.started_with: list[Any] = []
        self.step = asyncio.Event()

    async def __call__(self, ctx: PersistentContext) -> None:
        self.started_with.append(ctx.state)
        count = (ctx.state or {}).get("count", 0)
        while not ctx.stopping:
            count += 1
            await ctx.checkpoint({"count": count})
            assert ctx.state == {"count": count}
            self.step.set()
            await ctx.sleep(0.05)
        await ctx.checkpoint({"count": count, "final": True})  # allowed while the lease holds


async def running(admin: Admin, name: str, not_job: int | None = None) -> Any:
    worker = await admin.get_worker(name)
    if worker.status is not WorkerStatus.RUNNING or worker.job_id == not_job:
        return None
    return worker


async def test_every_next_run_starts_from_the_last_checkpoint(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()
    counter = Counter()
    client.persistent("counter", heartbeat_interval=0.2, heartbeat_timeout=2.0)(counter)
    await client.start()
    await wait_for(lambda: len(counter.started_with) == 1, message="the first run")
    assert counter.started_with == [None]

    async def count_at_least(n: int) -> Any:
        state = await admin.worker_state("counter")
        return state if state.checkpointed and state.state["count"] >= n else None

    await wait_for(lambda: count_at_least(3), message="three checkpoints")
    await admin.restart_worker("counter")
    await wait_for(lambda: len(counter.started_with) == 2, message="the restarted run")
    assert counter.started_with[1]["final"] is True  # the last checkpoint of the last run
    await admin.stop_worker("counter")
    await wait_for(lambda: _stopped(admin, "counter"), message="stopped")
    stopped = await admin.worker_state("counter")
    await admin.start_worker("counter")
    await wait_for(lambda: len(counter.started_with) == 3, message="the started run")
    assert counter.started_with[2] == stopped.state
    count = stopped.state["count"]
    assert stopped.run == 2 and stopped.size == len(f'{{"count":{count},"final":true}}')


async def _stopped(admin: Admin, name: str) -> bool:
    return (await admin.get_worker(name)).status is WorkerStatus.STOPPED


async def test_a_run_whose_lease_was_taken_cannot_checkpoint_over_its_successor(
    make_client: Callable[..., Client], admin: Admin, conn: Any
) -> None:
    first_may_write = asyncio.Event()
    outcomes: dict[str, Any] = {}
    successor_wrote = asyncio.Event()

    async def handler(ctx: PersistentContext) -> None:
        if ctx.run == 1:
            await ctx.checkpoint({"by": "first"})
            await first_may_write.wait()
            try:
                await ctx.checkpoint({"by": "first, after losing its lease"})
            except LeaseLost as exc:
                outcomes["first"] = exc
                outcomes["stopping"] = ctx.stopping
                raise
            return
        outcomes["successor saw"] = ctx.state
        await ctx.checkpoint({"by": "successor"})
        successor_wrote.set()
        while not ctx.stopping:
            await ctx.sleep(1)

    # Heartbeats far apart: the first run does not learn of its loss by a heartbeat.
    options: Any = {"heartbeat_interval": 30.0, "heartbeat_timeout": 120.0}
    first, second = make_client(), make_client()
    first.persistent("fenced", **options)(handler)
    second.persistent("fenced", **options)(handler)
    await first.start()
    taken = await wait_for(lambda: running(admin, "fenced"), message="the first run")
    await second.start()
    # The run is taken back behind the first run's back, as the rescuer does.
    await conn.execute(
        "UPDATE pqw_job SET state = 'discarded', finalized_at = now() WHERE id = $1",
        taken.job_id,
    )
    await asyncio.wait_for(successor_wrote.wait(), 15)
    first_may_write.set()
    await wait_for(lambda: "first" in outcomes, message="the first run's checkpoint")
    assert isinstance(outcomes["first"], LeaseLost)
    assert "nothing was stored" in str(outcomes["first"]) and outcomes["stopping"] is True
    assert outcomes["successor saw"] == {"by": "first"}
    assert (await admin.worker_state("fenced")).state == {"by": "successor"}


async def test_a_state_that_is_not_json_or_too_large_is_refused_and_the_run_goes_on(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    errors: list[BaseException] = []
    done = asyncio.Event()

    async def handler(ctx: PersistentContext) -> None:
        await ctx.checkpoint({"ok": 1})
        for bad in (
            {"when": object()},
            {"blob": "x" * MAX_STATE_BYTES},
            {"nan": float("nan")},
            {"nul": "a\x00b"},
            {"surrogate": "\ud800"},
        ):
            try:
                await ctx.checkpoint(bad)
            except InvalidCheckpoint as exc:
                errors.append(exc)
        await ctx.checkpoint({"ok": 2})
        done.set()
        while not ctx.stopping:
            await ctx.sleep(1)

    client = make_client()
    client.persistent("picky")(handler)
    await client.start()
    await asyncio.wait_for(done.wait(), 15)
    assert len(errors) == 5, errors
    assert "262,144-byte (256 KiB) limit" in str(errors[1])
    state = await admin.worker_state("picky")
    assert state.state == {"ok": 2} and state.version == 2


async def test_reset_forgets_the_state_but_not_while_a_run_is_under_way(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()
    counter = Counter()
    client.persistent("resettable", heartbeat_interval=0.2, heartbeat_timeout=2.0)(counter)
    await client.start()
    await asyncio.wait_for(counter.step.wait(), 10)
    with pytest.raises(InvalidJobOption, match="has a run under way"):
        await admin.reset_worker_state("resettable")
    assert (await admin.worker_state("resettable")).checkpointed
    await admin.stop_worker("resettable")
    await wait_for(lambda: _stopped(admin, "resettable"), message="stopped")
    before = await admin.worker_state("resettable")
    reset = await admin.reset_worker_state("resettable")
    assert reset.state is None and not reset.checkpointed and reset.version == before.version + 1
    assert reset.reset_by == admin.actor and reset.reset_at is not None
    await admin.start_worker("resettable")
    await wait_for(lambda: len(counter.started_with) == 2, message="the next run")
    assert counter.started_with[1] is None


async def test_a_worker_that_never_checkpointed_has_no_state(admin: Admin, conn: Any) -> None:
    await conn.execute("INSERT INTO pqw_persistent_worker (name) VALUES ('quiet')")
    state = await admin.worker_state("quiet")
    assert (state.state, state.version, state.checkpointed) == (None, 0, False)
