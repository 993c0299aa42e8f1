"""The soak's producer: a steady mix of jobs from an insert-only client in a process of its
own, as a web app would insert them, with a record of what each insert became.

`python -m tests.chaos.producer DSN SEED RECORD` inserts until SIGTERM, then writes
its record (JSON) to RECORD; RECORD.alive holds the time (time.monotonic(), which
every process of this machine shares) of its latest successful insert.

Every job carries a number `n` in its args. An insert that failed with the
connection may or may not have committed (`uncertain`); one inside a transaction
that was rolled back, or broke before its commit, must leave nothing (`absent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine import Client, InsertOpts, JobState, UniqueOpts
from engine.db.outage import is_connection_error
from engine.errors import DatabaseUnavailable
from tests.helpers import ROOT, subprocess_env

LIVE = [JobState.AVAILABLE, JobState.PENDING, JobState.RUNNING, JobState.RETRYABLE,
        JobState.SCHEDULED]  # fmt: skip
# Unique by one argument over the live states: a finished job lets the next one in.
UNIQUE = UniqueOpts(by_args=["key"], by_state=LIVE)
UNIQUE_KEYS = 4

INSERTED, DUPLICATE, UNCERTAIN, ABSENT = "inserted", "duplicate", "uncertain", "absent"


def lost_connection(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseUnavailable) or is_connection_error(exc)


@dataclass
class Record:
    """What became of each numbered insert, and when inserts worked."""

    status: dict[int, str] = field(default_factory=dict)
    job_ids: dict[int, int] = field(default_factory=dict)
    not_before: dict[int, datetime] = field(default_factory=dict)  # scheduled jobs
    successes: list[float] = field(default_factory=list)  # time.monotonic() of each
    transactions: dict[str, int] = field(default_factory=lambda: {"committed": 0, "rolled back": 0})

    def count(self, status: str) -> int:
        return sum(1 for s in self.status.values() if s == status)

    def to_json(self) -> str:
        return json.dumps(
            {
                "status": self.status,
                "job_ids": self.job_ids,
                "not_before": {n: at.isoformat() for n, at in self.not_before.items()},
                "transactions": self.transactions,
                "successes": len(self.successes),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Record:
        data = json.loads(text)
        return cls(
            status={int(n): s for n, s in data["status"].items()},
            job_ids={int(n): i for n, i in data["job_ids"].items()},
            not_before={int(n): datetime.fromisoformat(a) for n, a in data["not_before"].items()},
            transactions=data["transactions"],
        )


class Producer:
    """Inserts the mix at about `rate` jobs a second until stopped."""

    def __init__(self, dsn: str, rng: random.Random, alive: Path, rate: float = 12.0) -> None:
        self.client = Client(dsn, auto_migrate=False)
        self.rng = rng
        self.rate = rate
        self.record = Record()
        self._alive = alive
        self._alive_written = 0.0
        self._n = 0
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _job(self) -> tuple[str, dict[str, Any], InsertOpts | None]:
        """One job of the mix: (kind, args, options)."""
        rng, n = self.rng, self._next()
        roll = rng.random()
        args: dict[str, Any] = {"n": n, "ms": rng.choice([5, 20, 50, 150, 300])}
        opts: InsertOpts | None = None
        kind = "chaos.work"
        if roll < 0.15:
            args["fail"] = rng.randint(1, 2)
        elif roll < 0.25:
            args["snooze"] = rng.randint(1, 2)
        elif roll < 0.35:
            at = datetime.now(UTC) + timedelta(seconds=rng.uniform(0.5, 4.0))
            self.record.not_before[n] = at
            opts = InsertOpts(scheduled_at=at)
        elif roll < 0.50:
            kind = "chaos.unique"
            args["key"] = rng.randrange(UNIQUE_KEYS)
            args["ms"] = rng.choice([200, 500, 900])
            opts = InsertOpts(unique=UNIQUE)
        elif roll < 0.56:
            args["ms"] = rng.choice([1500, 3000])  # long enough to be caught by a kill
        return kind, args, opts

    async def run(self) -> None:
        """Insert until stopped; no database trouble ends it."""
        while True:
            try:
                await self.client.connect()
                break
            except Exception as exc:
                if not lost_connection(exc):
                    raise
                await asyncio.sleep(0.2)
        while not self._stopping.is_set():
            if self.rng.random() < 0.2:
                await self._in_transaction()
            else:
                await self._one()
            try:
                async with asyncio.timeout(self.rng.expovariate(self.rate)):
                    await self._stopping.wait()
            except TimeoutError:
                pass
        await self.client.close()

    async def _one(self) -> None:
        kind, args, opts = self._job()
        n = args["n"]
        try:
            result = await self.client.insert(kind, args, opts=opts)
        except Exception as exc:
            if not lost_connection(exc):
                raise
            self.record.status[n] = UNCERTAIN
            return
        self._written(n, result)

    def _written(self, n: int, result: Any) -> None:
        moment = time.monotonic()
        self.record.successes.append(moment)
        if moment - self._alive_written > 0.1:
            self._alive_written = moment
            temporary = self._alive.with_name(self._alive.name + ".tmp")
            temporary.write_text(repr(moment))
            temporary.replace(self._alive)
        if result.duplicate:
            self.record.status[n] = DUPLICATE
        else:
            self.record.status[n] = INSERTED
            self.record.job_ids[n] = result.job.id

    async def _in_transaction(self) -> None:
        """A few jobs in one open transaction, held a while, then committed or rolled back."""
        jobs = [self._job() for _ in range(self.rng.randint(1, 4))]
        commit = self.rng.random() < 0.75
        hold = self.rng.uniform(0.0, 0.6)
        numbers = [args["n"] for _, args, _ in jobs]
        for n in numbers:
            self.record.status[n] = ABSENT  # until the commit is known to have happened
        results: list[Any] = []
        committing = False
        try:
            async with self.client.pool.acquire() as conn:
                transaction = conn.transaction()
                await transaction.start()
                try:
                    for kind, args, opts in jobs:
                        results.append(await self.client.insert(kind, args, conn=conn, opts=opts))
                    # The caller's transaction stays open (a slow web request).
                    await asyncio.sleep(hold)
                except BaseException:
                    with contextlib.suppress(Exception):  # a broken connection rolled it back
                        await transaction.rollback()
                    raise
                if not commit:
                    await transaction.rollback()
                    self.record.transactions["rolled back"] += 1
                    return
                committing = True
                await transaction.commit()
        except Exception as exc:
            if not lost_connection(exc):
                raise
            if committing:
                for n in numbers:
                    self.record.status[n] = UNCERTAIN
            return
        self.record.transactions["committed"] += 1
        for n, result in zip(numbers, results, strict=True):
            self._written(n, result)


class ProducerProcess:
    """The producer's process, seen from the test: started, asked about, stopped, read."""

    def __init__(self, dsn: str, seed: int, folder: Path) -> None:
        self.path = folder / "producer.json"
        self.alive = folder / "producer.alive"
        log = open(folder / "producer.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.producer", dsn, str(seed), str(self.path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
            cwd=ROOT,
        )
        log.close()
        self.log = folder / "producer.log"

    def succeeded_after(self, moment: float) -> bool:
        """Whether an insert has worked since `moment` (time.monotonic())."""
        try:
            return float(self.alive.read_text()) > moment
        except (FileNotFoundError, ValueError):
            return False

    def stop(self, timeout: float = 60) -> Record:
        """SIGTERM, wait for its record; a producer that crashed fails with its log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        if code != 0 or not self.path.exists():
            raise AssertionError(f"the producer exited {code}:\n{self.log.read_text()[-4000:]}")
        return Record.from_json(self.path.read_text())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def _main(dsn: str, seed: int, path: Path) -> None:
    producer = Producer(dsn, random.Random(seed), path.with_suffix(".alive"))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, producer.stop)
    await producer.run()
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(producer.record.to_json())
    temporary.replace(path)


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])))
