"""Persistent workers in one process: start/stop/restart/config, leases, backoff, source of truth."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest

from engine import Client, InvalidConfig, NotFound, PersistentContext
from engine.admin import Admin
from engine.admin.models import WorkerStatus
from engine.persistent.ending import crash_backoff
from tests.helpers import wait_for


async def status_is(admin: Admin, name: str, *statuses: WorkerStatus) -> Any:
    try:
        worker = await admin.get_worker(name)
    except NotFound:
        return None
    return worker if worker.status in statuses else None


class Loop:
    """A handler that records what it sees, for assertions."""

    def __init__(self) -> None:
        self.runs: list[int] = []
        self.configs: list[dict[str, Any]] = []
        self.stops: list[str | None] = []
        self.running = asyncio.Event()
        self.stopped = asyncio.Event()
        self.config_seen = asyncio.Event()

    async def __call__(self, ctx: PersistentContext) -> None:
        self.runs.append(ctx.run)
        self.configs.append(dict(ctx.config))
        self.running.set()
        while not ctx.stopping:
            if ctx.config_changed.is_set():
                ctx.config_changed.clear()
                self.configs.append(dict(ctx.config))
                self.config_seen.set()
            ctx.progress({"ticks": len(self.configs)})
            await ctx.sleep(60)  # only a stop or a config change wakes it
        self.stops.append(ctx.stop_reason)
        self.stopped.set()


async def test_a_worker_runs_and_reports_where_and_how(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()
    loop = Loop()
    client.persistent("poller", config={"url": "https://a"})(loop)
    await client.start()
    await asyncio.wait_for(loop.running.wait(), 10)
    worker = await wait_for(
        lambda: status_is(admin, "poller", WorkerStatus.RUNNING), message="running"
    )
    assert worker.enabled and worker.config == {"url": "https://a"} and worker.config_version == 1
    assert worker.client_id == client.id and worker.where is not None and worker.runs == 1
    assert worker.heartbeat_age is not None and worker.heartbeat_age < worker.heartbeat_timeout
    assert (await admin.get_job(worker.job_id)).kind == "pqw.persistent:poller"
    with_progress = await wait_for(
        lambda: _progress(admin, "poller"), message="progress to be reported"
    )
    assert with_progress.progress == {"ticks": 1}


async def _progress(admin: Admin, name: str) -> Any:
    worker = await admin.get_worker(name)
    return worker if worker.progress else None


async def test_stop_start_and_restart(make_client: Callable[..., Client], admin: Admin) -> None:
    client = make_client()
    loop = Loop()
    client.persistent("poller", stop_grace=1.0)(loop)
    await client.start()
    await asyncio.wait_for(loop.running.wait(), 10)

    await admin.stop_worker("poller")
    await asyncio.wait_for(loop.stopped.wait(), 1.0)  # ctx.stopping within a second
    stopped = await wait_for(
        lambda: status_is(admin, "poller", WorkerStatus.STOPPED), message="stopped"
    )
    assert not stopped.enabled and stopped.job_id is None and loop.stops == ["stop"]
    job_states = await admin.pool.fetch("SELECT state FROM pqw_job ORDER BY id")
    assert [r["state"] for r in job_states] == ["cancelled"]  # and no new run inserted

    loop.running.clear()
    await admin.start_worker("poller")
    await asyncio.wait_for(loop.running.wait(), 1.0)  # running within a second
    assert loop.runs == [1, 2]

    loop.running.clear()
    loop.stopped.clear()
    await admin.restart_worker("poller")
    await asyncio.wait_for(loop.stopped.wait(), 1.0)
    await asyncio.wait_for(loop.running.wait(), 2.0)
    assert loop.stops[-1] == "restart" and loop.runs == [1, 2, 3]
    worker = await wait_for(
        lambda: status_is(admin, "poller", WorkerStatus.RUNNING), message="running"
    )
    assert worker.restarts == 1 and worker.updated_by == admin.actor

    with pytest.raises(NotFound, match="no persistent worker named 'nope'"):
        await admin.stop_worker("nope")


async def test_new_config_reaches_the_handler_within_a_second(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()
    live = Loop()
    client.persistent("live", config={"n": 1}, restart_on_config_change=False)(live)
    restarting = Loop()
    client.persistent("restarting", config={"n": 1})(restarting)
    await client.start()
    await asyncio.wait_for(live.running.wait(), 10)
    await asyncio.wait_for(restarting.running.wait(), 10)

    assert await admin.set_worker_config("live", {"n": 2}) == 2
    await asyncio.wait_for(live.config_seen.wait(), 1.0)
    assert live.configs == [{"n": 1}, {"n": 2}] and live.runs == [1]

    restarting.running.clear()
    await admin.set_worker_config("restarting", '{"n": 3}')  # JSON text works too
    await asyncio.wait_for(restarting.running.wait(), 2.0)
    # The default: end the run gracefully, start the next with the new config.
    assert restarting.stops == ["config"] and restarting.configs[-1] == {"n": 3}


@dataclass
class FeedConfig:
    url: str
    interval: float = 2.0
    tags: list[str] | None = None


class LimitsConfig(TypedDict):
    rate: int


async def test_configs_are_validated_and_a_bad_one_changes_nothing(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()
    seen: list[Any] = []

    @client.persistent("typed", config=FeedConfig(url="https://a"), config_type=FeedConfig)
    async def typed(ctx: PersistentContext) -> None:
        seen.append(ctx.config)
        while not ctx.stopping:
            await ctx.sleep(60)

    @client.persistent("limits", config={"rate": 5}, config_type=LimitsConfig)
    async def limits(ctx: PersistentContext) -> None:
        while not ctx.stopping:
            await ctx.sleep(60)

    await client.start()
    await wait_for(lambda: bool(seen), message="the typed run")
    assert seen[0] == FeedConfig(url="https://a")  # a typed object, not a dict

    bad = [
        ("typed", "not json", "config is not valid JSON"),
        ("typed", [1, 2], "config must be a JSON object"),
        ("typed", {"interval": 1.0}, "missing required field 'url'"),
        ("typed", {"url": 5}, r"config.url: expected string, got int 5"),
        ("typed", {"url": "x", "interval": "fast"}, "config.interval: expected number"),
        ("typed", {"url": "x", "tags": ["a", 1]}, r"config.tags"),
        ("typed", {"url": "x", "colour": "red"}, "unknown field 'colour'"),
        ("limits", {"rate": 1.5}, "config.rate: expected integer"),
        ("limits", {"rate": "many"}, "config.rate"),
    ]
    for name, config, message in bad:
        before = await admin.get_worker(name)
        with pytest.raises(InvalidConfig, match=message):
            await admin.set_worker_config(name, config)
        after = await admin.get_worker(name)
        assert (after.config, after.config_version) == (before.config, before.config_version)
    assert await admin.set_worker_config("typed", {"url": "https://b", "tags": ["x"]}) == 2
    assert issubclass(InvalidConfig, ValueError)


async def test_crashing_runs_back_off_and_show_the_last_error(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()
    attempts: list[float] = []

    @client.persistent("crasher")
    async def crasher(ctx: PersistentContext) -> None:
        attempts.append(asyncio.get_running_loop().time())
        raise ConnectionError(f"upstream down (run {ctx.run})")

    await client.start()
    await wait_for(lambda: len(attempts) >= 3, timeout=15, message="three crashes")
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # 1 s, then 2 s: doubling (the first retry may come a little early or late by a pass).
    assert 0.8 <= gaps[0] < 2.0 and 1.8 <= gaps[1] < 3.5
    worker = await wait_for(
        lambda: status_is(admin, "crasher", WorkerStatus.BACKING_OFF),
        timeout=5,
        message="backing off",
    )
    assert (
        worker.last_error == "ConnectionError: upstream down (run 3)"
        or worker.last_error.startswith("ConnectionError: upstream down")
    )
    assert worker.consecutive_failures >= 3 and worker.restarts >= 3
    # It never relied on max_attempts: each run is one job, each crash discards only that run.
    states = await admin.pool.fetch("SELECT state, max_attempts FROM pqw_job ORDER BY id")
    assert {(r["state"], r["max_attempts"]) for r in states[:3]} == {("discarded", 1)}
    assert [crash_backoff(n) for n in (1, 2, 3, 7, 8, 20)] == [1, 2, 4, 60, 60, 60]


async def test_a_lost_lease_cancels_the_handler_at_once(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()
    cancelled = asyncio.Event()
    running = asyncio.Event()

    @client.persistent("leased", heartbeat_interval=0.2, heartbeat_timeout=2.0)
    async def leased(ctx: PersistentContext) -> None:
        running.set()
        try:
            await asyncio.Event().wait()  # ignores ctx entirely: only cancellation ends it
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await client.start()
    await asyncio.wait_for(running.wait(), 10)
    worker = await admin.get_worker("leased")
    # Someone else took the lease (as the rescuer would after a partition).
    await admin.pool.execute(
        "UPDATE pqw_job SET attempt = attempt + 1 WHERE id = $1", worker.job_id
    )
    await asyncio.wait_for(cancelled.wait(), 0.2 * 2 + 0.2)  # within about one heartbeat interval


async def test_the_database_row_wins_over_code_defaults(dsn: str, admin: Admin) -> None:
    from tests.clients import FAST

    async def idle(ctx: PersistentContext) -> None:
        while not ctx.stopping:
            await ctx.sleep(60)

    async def run_once(config: dict[str, Any], enabled: bool = True) -> None:
        client = Client(dsn, auto_migrate=False, maintenance=FAST)
        client.persistent("w", config=config, enabled=enabled)(idle)
        await client.start()
        await client.stop(timeout=5)

    await run_once({"v": 1})
    await run_once({"v": 2})  # nobody changed it: the code's new default applies
    assert (await admin.get_worker("w")).config == {"v": 2}
    await admin.set_worker_config("w", {"v": "operator"})
    await admin.stop_worker("w")
    await run_once({"v": 3}, enabled=True)  # the operator's config and stop stand
    worker = await admin.get_worker("w")
    assert worker.config == {"v": "operator"} and not worker.enabled


async def test_a_worker_nobody_runs_is_shown_as_such(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()

    @client.persistent("orphan")
    async def orphan(ctx: PersistentContext) -> None:
        while not ctx.stopping:
            await ctx.sleep(60)

    await client.start()
    await wait_for(lambda: status_is(admin, "orphan", WorkerStatus.RUNNING), message="running")
    await client.stop()
    # The client left; the run it handed over waits for a client that defines the worker.
    worker = await wait_for(
        lambda: status_is(admin, "orphan", WorkerStatus.NO_CLIENT), message="no-client"
    )
    assert worker.runners == 0 and worker.enabled


async def test_definitions_are_checked(make_client: Callable[..., Client]) -> None:
    from engine import DuplicateKind, InvalidJobOption

    client = make_client(queues={"default": 1})

    async def fn(ctx: PersistentContext) -> None: ...

    client.persistent("one")(fn)
    with pytest.raises(DuplicateKind):
        client.persistent("one")(fn)
    with pytest.raises(InvalidJobOption, match="0 < heartbeat_interval < heartbeat_timeout"):
        client.persistent("two", heartbeat_interval=5, heartbeat_timeout=5)(fn)
    with pytest.raises(InvalidJobOption, match="is a job queue of this client"):
        client.persistent("three", queue="default")(fn)
    with pytest.raises(TypeError, match="must be an async function"):
        client.persistent("four")(lambda ctx: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(InvalidConfig, match="missing required field 'url'"):
        client.persistent("five", config={}, config_type=FeedConfig)(fn)


async def test_a_stop_asked_before_the_handler_starts_is_honoured(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    """Shutdown between the fetch and the claim: the handler starts already stopping."""
    from engine.persistent.run import PersistentRun

    client = make_client()
    seen: list[bool] = []

    @client.persistent("early")
    async def early(ctx: PersistentContext) -> None:
        seen.append(ctx.stopping)
        while not ctx.stopping:
            await ctx.sleep(60)

    original = PersistentRun.execute

    async def stop_first(run: PersistentRun) -> None:
        run.request_stop("shutdown")  # before the claim, as a SIGTERM might
        await original(run)

    PersistentRun.execute = stop_first  # type: ignore[method-assign]
    try:
        await client.start()
        await wait_for(lambda: bool(seen), message="the handler to start")
    finally:
        PersistentRun.execute = original  # type: ignore[method-assign]
    # Every run began while the patch held was told to stop before its first line.
    assert seen[0] is True
