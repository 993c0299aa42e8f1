"""The faults of the soak, at random moments from a seeded RNG, and what each is followed by.

- kill: SIGKILL a worker process and start a new one;
- freeze: SIGSTOP one past every lease it holds, SIGCONT it later (other faults go on);
- terminate: pg_terminate_backend a few random pqw sessions;
- restart-fast / restart-immediate: restart the server itself.

A kill, a freeze and a restart wait until the persistent workers have failed over
from the last kill (or its bound has passed, which the checks then report): the
failover bound is that of a kill, which a freeze or an outage in the middle of it
would stretch. Terminations go on meanwhile. After each restart, probes check
that the dashboard, the CLI, the producer and every worker process come back by
themselves.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from engine.db.outage import is_connection_error
from tests.chaos.cluster import Cluster, Member, now
from tests.chaos.server import ChaosServer
from tests.helpers import run_pqw
from tests.workers.chaos import (
    JOB_HEARTBEAT_TIMEOUT,
    PERSISTENT_TIMEOUT,
    PERSISTENT_WORKERS,
)

KINDS = ("kill", "freeze", "terminate", "restart-fast", "restart-immediate")
WEIGHTS = (25, 18, 30, 13, 14)
GAP = (1.0, 3.5)  # seconds between two faults
# Past every lease: a job's heartbeat timeout, a persistent run's, the leader's.
FREEZE = (JOB_HEARTBEAT_TIMEOUT + 1.0, JOB_HEARTBEAT_TIMEOUT + 4.0)
# How long anything may take to come back after a restart: generous, as the
# machine is loaded; what is asserted is that it comes back, not how fast.
RECOVERY_DEADLINE = 60.0
# A failover that has not happened after this long is reported (the bound
# itself is checked from the ledger; this only stops the soak waiting forever).
GATE_DEADLINE = PERSISTENT_TIMEOUT + 30.0


@dataclass
class Probe:
    """One client that must come back after a restart."""

    what: str
    restart: int
    took: float | None = None  # seconds after the restart, once back
    attempts: int = 0
    detail: str = ""


@dataclass
class Restart:
    mode: str
    began: datetime
    ended: datetime
    seconds: float


@dataclass
class Log:
    """Everything the faults did, for the checks and the report."""

    seed: int
    faults: list[tuple[str, datetime, str]] = field(default_factory=list)
    kills: list[tuple[int, datetime]] = field(default_factory=list)  # (pid, when)
    freezes: int = 0
    terminated: int = 0
    restarts: list[Restart] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    gate_timeouts: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for k, _, _ in self.faults if k == kind)


async def fresh_connection(dsn: str) -> asyncpg.Connection[Any] | None:
    try:
        return await asyncpg.connect(dsn, timeout=10)
    except Exception as exc:
        if is_connection_error(exc) or isinstance(exc, asyncpg.PostgresError):
            return None
        raise


async def query(dsn: str, statement: str, *args: object) -> list[asyncpg.Record] | None:
    """One statement on a connection of its own; None while the database is away."""
    conn = await fresh_connection(dsn)
    if conn is None:
        return None
    try:
        return list(await conn.fetch(statement, *args))
    except Exception as exc:
        if is_connection_error(exc):
            return None
        raise
    finally:
        try:
            await conn.close()
        except Exception:
            conn.terminate()  # the server went away under it: nothing to close politely


class Chaos:
    """Does the faults for `seconds`, then stops; `log` says what was done."""

    def __init__(
        self,
        *,
        seed: int,
        seconds: float,
        server: ChaosServer,
        cluster: Cluster,
        dashboard_back: Callable[[float], bool],
        producer_back: Callable[[float], bool],
    ) -> None:
        self.rng = random.Random(seed)
        self.seconds = seconds
        self.server = server
        self.cluster = cluster
        self.dashboard_back = dashboard_back
        self.producer_back = producer_back
        self.log = Log(seed)
        self._gate: asyncio.Task[None] | None = None
        self._background: list[asyncio.Task[Any]] = []

    @property
    def dsn(self) -> str:
        return self.server.dsn

    async def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        # Every kind of fault at least once, in a seeded order, then at random.
        plan = list(KINDS)
        self.rng.shuffle(plan)
        while time.monotonic() < deadline:
            # The pace of the faults (workload), not a wait for anything.
            await asyncio.sleep(self.rng.uniform(*GAP))
            kind = plan.pop(0) if plan else self.rng.choices(KINDS, WEIGHTS)[0]
            await self.do(kind)
        await self._wait_gate()
        self.cluster.thaw_all()
        await asyncio.gather(*self._background)

    async def do(self, kind: str) -> None:
        if kind == "terminate":
            await self.terminate()
            return
        await self._wait_gate()
        if kind == "kill":
            await self.kill()
        elif kind == "freeze":
            await self.freeze()
        else:
            await self.restart(kind.removeprefix("restart-"))

    def _note(self, kind: str, detail: str) -> None:
        self.log.faults.append((kind, now(), detail))

    # -- kill and freeze --

    async def _victim(self, targets: list[Member]) -> Member:
        """A third of the time the process running a persistent worker, a third the
        leader, else any."""
        roll = self.rng.random()
        if roll < 2 / 3:
            if roll < 1 / 3:
                worker = self.rng.choice(PERSISTENT_WORKERS)
                rows = await query(
                    self.dsn,
                    "SELECT r.pid FROM chaos_run r JOIN chaos_beat b ON b.run_id = r.id "
                    "WHERE r.worker = $1 ORDER BY b.checked_at DESC LIMIT 1",
                    worker,
                )
            else:
                rows = await query(
                    self.dsn, "SELECT pid FROM chaos_leader ORDER BY id DESC LIMIT 1"
                )
            chosen = next((m for m in targets if rows and m.pid == rows[0]["pid"]), None)
            if chosen is not None:
                return chosen
        return self.rng.choice(targets)

    async def kill(self) -> None:
        targets = self.cluster.running()
        if len(targets) < 2:
            # Someone started and not frozen must be left to fail over to: a kill
            # with none would measure how long a new process takes to start.
            return
        victim = await self._victim(targets)
        at = self.cluster.kill(victim)
        self.log.kills.append((victim.pid, at))
        self._note("kill", f"pid {victim.pid}")
        self.cluster.spawn()
        self._gate = asyncio.create_task(self._failed_over(victim.pid, at))

    async def _failed_over(self, pid: int, killed_at: datetime) -> None:
        """Until every persistent worker works on another process than `pid` after the kill."""
        deadline = time.monotonic() + GATE_DEADLINE
        while time.monotonic() < deadline:
            rows = await query(
                self.dsn,
                "SELECT r.worker FROM chaos_run r JOIN chaos_beat b ON b.run_id = r.id "
                "WHERE r.pid <> $1 AND b.checked_at > $2 GROUP BY r.worker",
                pid,
                killed_at,
            )
            if rows is not None and {r["worker"] for r in rows} >= set(PERSISTENT_WORKERS):
                return
            await asyncio.sleep(0.1)
        self.log.gate_timeouts.append(f"kill of pid {pid} at {killed_at.isoformat()}")

    async def _wait_gate(self) -> None:
        if self._gate is not None:
            await self._gate
            self._gate = None

    async def freeze(self) -> None:
        targets = self.cluster.running()
        if self.cluster.frozen() or len(targets) < 2:
            return  # one frozen at a time, and someone left to take over
        victim = await self._victim(targets)
        self.cluster.freeze(victim)
        self.log.freezes += 1
        seconds = self.rng.uniform(*FREEZE)
        self._note("freeze", f"pid {victim.pid} for {seconds:.1f}s")

        async def thaw() -> None:
            # How long the process stays stopped: the fault itself.
            await asyncio.sleep(seconds)
            self.cluster.thaw(victim)

        self._background.append(asyncio.create_task(thaw()))

    # -- sessions and the server --

    async def terminate(self) -> None:
        """A few random pqw sessions, or every session of one client (a cut network)."""
        rows = await query(
            self.dsn,
            "SELECT pid, application_name AS name FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE 'pqw%' "
            "AND pid <> pg_backend_pid() ORDER BY pid",
        )
        if not rows:
            return
        pids = [r["pid"] for r in rows]
        if self.rng.random() < 0.3:
            # Sessions are named "pqw <client id>[ elector| leader]", or "pqw-tui".
            clients = sorted({r["name"].split(" ")[:2][-1] for r in rows})
            client = self.rng.choice(clients)
            chosen = [r["pid"] for r in rows if r["name"].split(" ")[:2][-1] == client]
        else:
            chosen = self.rng.sample(pids, self.rng.randint(1, max(1, len(pids) // 3)))
        done = await query(
            self.dsn,
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(p)) AS n FROM unnest($1::int[]) p",
            chosen,
        )
        cut = int(done[0]["n"]) if done else 0
        self.log.terminated += cut
        self._note("terminate", f"{cut} of {len(pids)} pqw sessions")

    async def restart(self, mode: str) -> None:
        began = now()
        seconds = await asyncio.to_thread(self.server.restart, mode)
        ended = now()
        self.log.restarts.append(Restart(mode, began, ended, seconds))
        index = len(self.log.restarts)
        self._note(f"restart-{mode}", f"{seconds:.2f}s")
        back_at = time.monotonic()
        for probe, check in (
            (Probe("dashboard", index), self._dashboard(back_at)),
            (Probe("cli", index), self._cli()),
            (Probe("producer", index), self._producer(back_at)),
            (Probe("workers", index), self._workers(ended)),
        ):
            self.log.probes.append(probe)
            self._background.append(asyncio.create_task(self._probe(probe, check, back_at)))

    async def _probe(self, probe: Probe, check: Callable[[], Awaitable[str | None]], since: float):
        """Try `check` until it says the client is back (None) or the deadline passes."""
        deadline = since + RECOVERY_DEADLINE
        while True:
            probe.attempts += 1
            problem = await check()
            if problem is None:
                probe.took = time.monotonic() - since
                return
            probe.detail = problem
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.2)

    def _dashboard(self, since: float) -> Callable[[], Awaitable[str | None]]:
        async def check() -> str | None:
            return None if self.dashboard_back(since) else "no fresh overview since the restart"

        return check

    def _producer(self, since: float) -> Callable[[], Awaitable[str | None]]:
        async def check() -> str | None:
            return None if self.producer_back(since) else "no insert since the restart"

        return check

    def _cli(self) -> Callable[[], Awaitable[str | None]]:
        async def check() -> str | None:
            done = await asyncio.to_thread(run_pqw, "persistent", "list", "--dsn", self.dsn)
            if done.returncode == 0 and all(w in done.stdout for w in PERSISTENT_WORKERS):
                return None
            return f"exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}"

        return check

    def _workers(self, since: datetime) -> Callable[[], Awaitable[str | None]]:
        async def check() -> str | None:
            # Every process alive and not frozen has heartbeat since the restart.
            expected = {m.pid for m in self.cluster.running()}
            rows = await query(
                self.dsn,
                "SELECT pid FROM pqw_client WHERE heartbeat_at > $1 AND stopped_at IS NULL",
                since,
            )
            if rows is None:
                return "the database is away"
            missing = expected - {r["pid"] for r in rows}
            # A process thawed or killed since is looked at again, or no more.
            missing &= {m.pid for m in self.cluster.running()}
            return None if not missing else f"no heartbeat from pids {sorted(missing)}"

        return check
