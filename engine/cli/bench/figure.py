"""A benchmark figure (samples, median, spread) and the scratch database figures run on."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from engine.client import Client
from engine.db import migrate
from engine.db.pool import connect


@dataclass
class Figure:
    name: str
    unit: str
    samples: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # To the raw baseline of the same runs (engine/cli/bench/raw.py): the median of
    # the per-run ratios, so each ratio compares two figures taken under one load.
    ratio: float | None = None
    baseline: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def row(self) -> str:
        spread = (
            f"{min(self.samples):,.1f} .. {max(self.samples):,.1f}" if len(self.samples) > 1 else ""
        )
        ratio = f"{self.ratio:.2f}x raw" if self.ratio is not None else ""
        extra = "  ".join(f"{k}={v}" for k, v in self.extra.items())
        return (
            f"{self.name:<38} {self.median:>12,.1f} {self.unit:<8} {ratio:<10} {spread:<24} {extra}"
        )

    def as_json(self) -> str:
        ratio = {} if self.ratio is None else {"ratio": self.ratio, "baseline": self.baseline}
        return json.dumps(
            {
                "figure": self.name,
                "unit": self.unit,
                "median": round(self.median, 3),
                "samples": [round(s, 3) for s in self.samples],
                **ratio,
                **self.extra,
            }
        )


def side_by_side(
    name: str, unit: str, ours: list[float], raw: Figure, extra: dict[str, Any] | None = None
) -> Figure:
    """pqw's per-run figures next to the raw baseline's of the same runs."""
    ratios = [o / r for o, r in zip(ours, raw.samples, strict=True) if r]
    ratio = round(statistics.median(ratios), 3) if ratios else None
    return Figure(name, unit, ours, dict(extra or {}), ratio=ratio, baseline=raw.name)


def database_uri(dsn: str, database: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


@asynccontextmanager
async def scratch_database(dsn: str) -> AsyncIterator[str]:
    """A fresh migrated database next to the one named by dsn, dropped afterwards."""
    name = f"pqw_bench_{os.getpid()}"  # digits only after a fixed prefix: a safe identifier
    conn = await connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    uri = database_uri(dsn, name)
    try:
        sconn = await connect(uri)
        try:
            await migrate.migrate_up(sconn)
        finally:
            await sconn.close()
        yield uri
    finally:
        conn = await connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def reset(client: Client) -> None:
    await client.pool.execute("TRUNCATE pqw_job, pqw_throughput")


def batches(
    count: int, size: int, make: Callable[[int], tuple[Any, ...]]
) -> list[list[tuple[Any, ...]]]:
    return [
        [make(i) for i in range(start, min(count, start + size))] for start in range(0, count, size)
    ]
