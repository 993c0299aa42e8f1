"""The chaos soak: three worker processes, a producer and the dashboard on a server of the
soak's own, under many faults at once; then everything is checked from the database and
the handlers' ledger (tests/chaos/checks.py says what is proven).

About 60 s of faults by default; `PQW_CHAOS_SECONDS=600` runs longer. The seed is
printed; `PQW_CHAOS_SEED=<seed>` replays the same faults in the same order (the
moments they land on are the machine's).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from textual.message import Message

from engine.db.outage import is_connection_error
from engine.db.pool import connect
from tests.chaos import checks
from tests.chaos.cluster import Cluster
from tests.chaos.faults import Chaos, query
from tests.chaos.producer import ProducerProcess, Record
from tests.chaos.server import ChaosServer
from tests.helpers import wait_for
from tests.workers.chaos import LEDGER_TABLES, PERSISTENT_WORKERS
from tui.app import PqwApp
from tui.data.feed import Connected, ConnectionChanged, OverviewFetched
from tui.data.source import AdminSource

SECONDS = float(os.environ.get("PQW_CHAOS_SECONDS", "60"))
SEED = int(os.environ.get("PQW_CHAOS_SEED") or random.SystemRandom().randrange(2**32))
PROCESSES = 3
# Settling needs every stuck job rescued (a job heartbeat timeout), retried and
# run, on a loaded machine: generous, as only the end state is asserted.
SETTLE_DEADLINE = 180.0

# Live duplicates the unique index must never allow, looked at during the whole run:
# by unique key, by the unique jobs' own argument, and one live recipe run or
# persistent run at a time.
SAMPLE = """
SELECT 'unique key' AS what, encode(unique_key, 'hex') AS key, count(*) AS n FROM pqw_job
WHERE unique_key IS NOT NULL AND pqw_job_state_in_bitmask(unique_states, state)
GROUP BY unique_key HAVING count(*) > 1
UNION ALL
SELECT 'unique arg', args->>'key', count(*) FROM pqw_job
WHERE kind = 'chaos.unique' AND state NOT IN ('completed', 'cancelled', 'discarded')
GROUP BY args->>'key' HAVING count(*) > 1
UNION ALL
SELECT 'one live', kind, count(*) FROM pqw_job
WHERE (kind = 'chaos.recipe' OR starts_with(kind, 'pqw.persistent:'))
  AND state NOT IN ('completed', 'cancelled', 'discarded')
GROUP BY kind HAVING count(*) > 1
"""


@pytest.fixture
def chaos_server() -> Iterator[ChaosServer]:
    server = ChaosServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


class Sampler:
    """Looks for live duplicates every quarter second, through outages."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.samples = 0
        self.violations: list[str] = []
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        conn: asyncpg.Connection[Any] | None = None
        while not self._stop.is_set():
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(self.dsn, timeout=10)
                rows = await conn.fetch(SAMPLE)
                self.samples += 1
                for row in rows:
                    self.violations.append(
                        f"{datetime.now(UTC).isoformat()}: {row['n']} live jobs share "
                        f"{row['what']} {row['key']}"
                    )
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                conn = None
            try:
                async with asyncio.timeout(0.25):
                    await self._stop.wait()
            except TimeoutError:
                pass
        if conn is not None:
            conn.terminate()


async def persistent_working(dsn: str, since: datetime) -> bool:
    rows = await query(
        dsn,
        "SELECT DISTINCT r.worker FROM chaos_run r JOIN chaos_beat b ON b.run_id = r.id "
        "WHERE b.checked_at > $1",
        since,
    )
    return rows is not None and {r["worker"] for r in rows} >= set(PERSISTENT_WORKERS)


async def settled(dsn: str, watermark: int) -> bool:
    """Every job inserted before `watermark` is final (persistent runs aside)."""
    rows = await query(
        dsn,
        "SELECT count(*) AS n FROM pqw_job WHERE id <= $1 AND NOT starts_with(kind, 'pqw.') "
        "AND state NOT IN ('completed', 'cancelled', 'discarded')",
        watermark,
    )
    return rows is not None and rows[0]["n"] == 0


def failure_context(server: ChaosServer, cluster: Cluster) -> str:
    return f"{cluster.logs()[-12000:]}\n--- postgres\n{server.log_tail()}"


@pytest.mark.timeout(SECONDS * 2 + 480)
async def test_chaos_soak_loses_nothing_runs_nothing_twice_unexplained_and_recovers(
    chaos_server: ChaosServer, tmp_path: Path
) -> None:
    print(f"\nchaos: seed {SEED} (replay with PQW_CHAOS_SEED={SEED}), {SECONDS:g}s of faults")
    dsn = chaos_server.dsn
    db = await asyncpg.connect(dsn)
    await db.execute(LEDGER_TABLES)
    await db.close()
    cluster = Cluster(dsn, tmp_path)
    seen: list[tuple[float, Message]] = []

    def hook(message: Message) -> None:
        if isinstance(message, ConnectionChanged | OverviewFetched):
            seen.append((time.monotonic(), message))

    app = PqwApp(AdminSource(dsn), refresh=0.5)

    def dashboard_back(since: float) -> bool:
        fresh = any(isinstance(m, OverviewFetched) and m.started_at > since for _, m in seen[-50:])
        return fresh and isinstance(app.feed.state, Connected)

    rng = random.Random(SEED)
    producer: ProducerProcess | None = None
    sampler = Sampler(dsn)
    chaos = Chaos(
        seed=rng.randrange(2**32),
        seconds=SECONDS,
        server=chaos_server,
        cluster=cluster,
        dashboard_back=dashboard_back,
        producer_back=lambda since: producer is not None and producer.succeeded_after(since),
    )
    try:
        for _ in range(PROCESSES):
            cluster.spawn()
        await wait_for(
            lambda: all(m.started for m in cluster.members), timeout=60, message="workers"
        )
        began = datetime.now(UTC)
        await wait_for(
            lambda: persistent_working(dsn, began), timeout=60, message="persistent runs"
        )
        async with app.run_test(size=(120, 40), message_hook=hook):
            await wait_for(lambda: dashboard_back(0.0), timeout=60, message="the dashboard")
            producer = ProducerProcess(dsn, rng.randrange(2**32), tmp_path)
            sampling = asyncio.create_task(sampler.run())
            await chaos.run()
            record: Record = await asyncio.to_thread(producer.stop)

            # Settle: no more faults; everything inserted so far must end.
            settle_began = datetime.now(UTC)
            watermark = int(
                (await query(dsn, "SELECT coalesce(max(id), 0) AS m FROM pqw_job"))[0]["m"]  # type: ignore[index]
            )
            await wait_for(
                lambda: settled(dsn, watermark),
                timeout=SETTLE_DEADLINE,
                interval=0.5,
                message=f"every job up to {watermark} to end",
            )
            await wait_for(
                lambda: persistent_working(dsn, settle_began),
                timeout=60,
                message="persistent runs after the settle",
            )
            sampler.stop()
            await sampling
            assert app.internal_errors == []
            assert isinstance(app.feed.state, Connected), app.feed.state

        report = checks.Report()
        db = await connect(dsn)
        try:
            await checks.check_jobs(db, record, report)
            await checks.check_nothing_stuck(db, watermark, report)
            await checks.check_schedule_kept(db, record, report)
            await checks.check_executions(db, cluster, report)
            await checks.check_ticks(db, report)
            await checks.check_persistent(db, chaos.log, cluster, report)
            await checks.check_leader(db, began, report)
        finally:
            await db.close()
        checks.check_faults(chaos.log, report)
        report.problems.extend(sampler.violations)
        report.figure("duplicate samples taken", sampler.samples)
        report.figure("dashboard connection changes", sum(
            1 for _, m in seen if isinstance(m, ConnectionChanged)))  # fmt: skip
        print(f"chaos: seed {SEED}")
        for name, value in report.figures.items():
            print(f"  {name}: {value}")
        for kind, at, detail in chaos.log.faults:
            print(f"  fault {at.time().isoformat(timespec='milliseconds')} {kind}: {detail}")
        assert report.problems == [], (
            f"seed {SEED}: {len(report.problems)} problems:\n"
            + "\n".join(report.problems[:40])
            + "\n"
            + failure_context(chaos_server, cluster)
        )
    except Exception as exc:
        if "problems:" not in str(exc):  # the report's failure carries the logs already
            print(failure_context(chaos_server, cluster))
        raise
    finally:
        if producer is not None:
            producer.kill()
        sampler.stop()
        cluster.stop_all()
