"""run_persistent: a persistent worker's loop for N iterations with a fake context that is a
PersistentContext (stopping after N, config changes injected, checkpoints captured)."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass

import pytest

from engine import Client, InvalidCheckpoint, InvalidConfig, PersistentContext
from engine.testing import FakeContext, run_persistent


async def consumer(ctx: PersistentContext) -> None:
    offset = (ctx.state or {}).get("offset", 0)
    ctx.log(f"run {ctx.run} from offset {offset}, batch {ctx.config['batch']}")
    while not ctx.stopping:
        offset += ctx.config["batch"]
        await ctx.checkpoint({"offset": offset})
        ctx.progress({"offset": offset})
        await ctx.sleep(1.0)


async def test_n_iterations_then_stopping_with_the_checkpoints_logs_and_progress() -> None:
    outcome = await run_persistent(
        consumer, iterations=3, config={"batch": 10}, state={"offset": 5}
    )
    assert (outcome.ended, outcome.stop_reason, outcome.iterations, outcome.runs) == (
        "stopped",
        "stop",
        3,
        1,
    )
    assert outcome.checkpoints == [{"offset": 15}, {"offset": 25}, {"offset": 35}]
    assert outcome.state == {"offset": 35}
    assert outcome.progress == [{"offset": 15}, {"offset": 25}, {"offset": 35}]
    assert outcome.sleeps == [1.0, 1.0, 1.0]
    assert outcome.logs == [(logging.INFO, "run 1 from offset 5, batch 10")]


async def test_a_config_change_restarts_the_run_with_the_last_checkpoint() -> None:
    outcome = await run_persistent(
        consumer, iterations=4, config={"batch": 1}, config_changes={2: {"batch": 100}}
    )
    assert outcome.runs == 2 and outcome.config == {"batch": 100} and outcome.config_version == 2
    assert outcome.checkpoints == [{"offset": 1}, {"offset": 2}, {"offset": 102}, {"offset": 202}]
    assert [m for _, m in outcome.logs] == [
        "run 1 from offset 0, batch 1",
        "run 2 from offset 2, batch 100",
    ]


@dataclass
class PollerConfig:
    interval: float = 2.0


async def test_a_live_config_change_and_the_workers_definition_on_a_client() -> None:
    client = Client("postgresql://nobody@127.0.0.1:9/nothing")
    intervals: list[float] = []

    @client.persistent(
        "poller",
        config={"interval": 2.0},
        config_type=PollerConfig,
        restart_on_config_change=False,
    )
    async def poller(ctx: PersistentContext) -> None:
        while not ctx.stopping:
            intervals.append(ctx.config.interval)
            await ctx.sleep(ctx.config.interval)

    outcome = await run_persistent(
        poller, client=client, iterations=3, config_changes={1: {"interval": 0.5}}
    )
    assert outcome.runs == 1 and intervals == [2.0, 0.5, 0.5]
    assert outcome.config == PollerConfig(0.5) and outcome.config_version == 2
    with pytest.raises(InvalidConfig, match="interval"):
        await run_persistent(poller, client=client, config_changes={1: {"interval": "soon"}})
    with pytest.raises(LookupError, match="no persistent worker 'other'"):
        await run_persistent(poller, client=client, name="other")


async def test_returned_crashed_a_bad_checkpoint_and_a_loop_that_never_sleeps() -> None:
    async def once(ctx: PersistentContext) -> None:
        await ctx.checkpoint({"done": True})

    returned = await run_persistent(once, iterations=5)
    assert (returned.ended, returned.iterations, returned.state) == ("returned", 0, {"done": True})

    async def crashes(ctx: PersistentContext) -> None:
        await ctx.sleep(1)
        raise RuntimeError("feed is gone")

    crashed = await run_persistent(crashes, iterations=5)
    assert crashed.ended == "crashed" and str(crashed.error) == "feed is gone"
    assert crashed.iterations == 1

    async def too_big(ctx: PersistentContext) -> None:
        await ctx.checkpoint({"blob": "x" * 300_000})

    refused = await run_persistent(too_big)
    assert isinstance(refused.error, InvalidCheckpoint) and refused.checkpoints == []

    async def spins(ctx: PersistentContext) -> None:
        while not ctx.stopping:
            await ctx.config_changed.wait()

    with pytest.raises(TimeoutError, match=r"does its loop sleep with ctx\.sleep"):
        await run_persistent(spins, timeout=0.1)


def test_the_fake_context_has_the_real_ones_api() -> None:
    """A subclass (mypy checks each override); the overrides keep the real signatures."""
    assert issubclass(FakeContext, PersistentContext)
    for name in ("sleep", "log", "progress"):
        real = inspect.signature(getattr(PersistentContext, name))
        fake = inspect.signature(getattr(FakeContext, name))
        assert fake == real, name
