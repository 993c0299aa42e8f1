"""The maintenance crew's loops: each service runs its bounded pass on its interval while this
client leads, behind the fence, and no error ends a loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from engine import sql
from engine.db.outage import is_connection_error, retry_delay
from engine.leadership.fence import Fence, NotLeader

log = logging.getLogger("pqw.maintenance")

# One pass of a service: given the fence, do a bounded amount of work.
Pass = Callable[[Fence], Awaitable[Any]]

# What the crew's passes run inside fenced transactions. On servers without
# transaction_timeout, each leader session prepares them as it connects, so a
# leader frozen mid-pass is never caught between a Parse and its Bind (active,
# where no timeout reaches it) while holding what the pass has locked.
CREW_STATEMENTS = (
    sql.SCHEDULE_DUE_JOBS,
    sql.RESCUE_STALE_JOBS,
    sql.INSERT_DUE_RUNS,
    sql.LOCK_DUE_PERIODIC,
    sql.INSERT_JOBS,
    sql.UNIQUE_HOLDERS,
    sql.ADVANCE_PERIODIC,
    sql.DELETE_FINISHED_JOBS,
    sql.DELETE_OLD_THROUGHPUT,
    sql.PRUNE_RUN_HISTORY,
    sql.PRUNE_CONFIG_HISTORY,
    sql.FOLD_JOB_COUNTS,
    sql.MARK_DEAD_CLIENTS,
    sql.PRUNE_CLIENTS,
)


class LeaderServices:
    """Runs each maintenance pass on its interval while this client leads."""

    def __init__(
        self, is_leader: Callable[[], bool], fence: Fence, on_fence_lost: Callable[[], None]
    ):
        self._is_leader = is_leader
        self._fence = fence
        self._on_fence_lost = on_fence_lost
        self._passes: list[tuple[str, float, Pass]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._finishing = asyncio.Event()

    def add(self, name: str, interval: float, run_pass: Pass) -> None:
        self._passes.append((name, interval, run_pass))

    def start(self) -> None:
        self.stop()
        self._tasks = [
            asyncio.create_task(self._loop(name, interval, run_pass), name=f"pqw:leader:{name}")
            for name, interval, run_pass in self._passes
        ]

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    async def wait_stopped(self, grace: float = 5.0) -> None:
        """Stop after the passes under way finish: a pass cancelled inside its fenced
        transaction would hold the fence's lock (and so delay our own resignation)."""
        tasks, self._tasks = self._tasks, []
        self._finishing.set()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._finishing.clear()

    async def _loop(self, name: str, interval: float, run_pass: Pass) -> None:
        failures = 0
        while not self._finishing.is_set():
            # The local check saves a round trip; the fence inside the pass decides.
            if self._is_leader():
                try:
                    await run_pass(self._fence)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except NotLeader:
                    self._on_fence_lost()
                except Exception as exc:
                    failures += 1
                    if failures == 1 or not is_connection_error(exc):
                        log.warning("pqw: maintenance %s failed (%s); retrying", name, exc)
            pause = interval if not failures else retry_delay(failures, base=interval, cap=10.0)
            try:
                async with asyncio.timeout(pause):
                    await self._finishing.wait()
            except TimeoutError:
                pass
