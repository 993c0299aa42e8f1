"""What the sample cluster's workers remember: states, runs, log lines, config versions.

Fixed values, for the worker screen's pictures and tests; feed-poller has the whole
story (a crash, a failover, config changes), the others a little or nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from engine.admin import ConfigVersion, WorkerLogLine, WorkerRun, WorkerState

FEED_STATE: dict[str, Any] = {
    "cursor": "2026-03-14T09:26:48Z",
    "offset": 18_234,
    "etag": 'W/"5f3a-19c"',
    "pending_ids": [771_198, 771_201, 771_203],
    "stats": {"fetched": 18_234, "skipped": 12, "last_batch": 200},
}

# (run, how it ended, seconds it lasted, ended how long ago, client, config version, error)
_FEED_RUNS: list[tuple[int, str | None, float, float, str, int, str | None]] = [
    (14, None, 11_532, 0, "a", 3, None),
    (
        13,
        "rescued",
        6_020,
        11_540,
        "c",
        3,
        "runner c03-worker-c-5512 lost: no heartbeat within 00:00:05",
    ),
    (12, "config", 86_100, 17_580, "b", 2, None),
    (
        11,
        "crash",
        724,
        103_700,
        "b",
        2,
        "ConnectionResetError: feeds.example.com reset the connection",
    ),
    (10, "restart", 40_210, 104_430, "a", 2, None),
    (9, "shutdown", 259_000, 144_660, "a", 1, None),
    (8, "stop", 3_400, 403_900, "b", 1, None),
]

_CLIENTS = {
    "a": ("c01-worker-a-4123", "worker-a", 4123),
    "b": ("c02-worker-b-981", "worker-b", 981),
    "c": ("c03-worker-c-5512", "worker-c", 5512),
}

_FEED_LOG: list[tuple[float, int, str, str]] = [
    (
        11_532,
        logging.INFO,
        "pqw",
        "run 14 started on c01-worker-a-4123 with config v3 and the state of checkpoint 18190",
    ),
    (11_531, logging.INFO, "app.feed", "resuming at offset 18190 (cursor 2026-03-14T06:14:40Z)"),
    (96, logging.INFO, "app.feed", "polled 14 items in 0.21s, offset 18204"),
    (71, logging.WARNING, "app.feed", "slow response from feeds.example.com: 2.4s"),
    (66, logging.INFO, "app.feed", "polled 9 items in 2.41s, offset 18213"),
    (
        41,
        logging.ERROR,
        "app.feed",
        "item 771199 refused: missing field 'sku'\n"
        'Traceback (most recent call last):\n  File "/srv/app/feeds/items.py", line 58, in parse\n'
        "    sku = raw[\"sku\"]\nKeyError: 'sku'",
    ),
    (40, logging.INFO, "feed-poller", "skipped item 771199; 12 skipped so far"),
    (36, logging.INFO, "app.feed", "polled 11 items in 0.18s, offset 18224"),
    (
        31,
        logging.DEBUG,
        "httpx",
        "HTTP Request: GET https://feeds.example.com/orders?since=18224 "
        '"HTTP/1.1 304 Not Modified"',
    ),
    (26, logging.INFO, "app.feed", "nothing new (304)"),
    (21, logging.INFO, "app.feed", "polled 6 items in 0.22s, offset 18230"),
    (16, logging.INFO, "app.feed", "polled 4 items in 0.19s, offset 18234"),
    (11, logging.INFO, "app.feed", "nothing new (304)"),
    (6, logging.INFO, "app.feed", "nothing new (304)"),
    (1, logging.INFO, "app.feed", "polled 0 items in 0.17s, offset 18234"),
]

_LEDGER_LOG: list[tuple[float, int, str, str]] = [
    (29, logging.INFO, "pqw", "run 9 started on c02-worker-b-981 with config v1 and no state"),
    (28, logging.INFO, "app.ledger", "reconciling accounts since 2026-03-01"),
    (21, logging.ERROR, "app.ledger", "ledger API closed the connection"),
    (
        21,
        logging.INFO,
        "pqw",
        "run 9 ended: crash (ConnectionResetError: ledger API closed the connection) after 7.9s",
    ),
]


def _size(state: Any) -> int:
    return len(json.dumps(state, separators=(",", ":")).encode())


def sample_states(now: datetime) -> dict[str, WorkerState]:
    def ago(seconds: float) -> datetime:
        return now - timedelta(seconds=seconds)

    def state(name: str, value: Any, version: int, run: int, age: float) -> WorkerState:
        return WorkerState(
            name=name,
            state=value,
            version=version,
            size=_size(value),
            run=run,
            job_id=90_211,
            client_id=_CLIENTS["a"][0],
            checkpointed_at=ago(age),
            reset_at=None,
            reset_by=None,
            now=now,
        )

    return {
        "feed-poller": state("feed-poller", FEED_STATE, 18_234, 14, 2),
        "stream-consumer": state(
            "stream-consumer", {"topic": "orders", "partition": 3, "offset": 771_204}, 48_211, 1, 1
        ),
    }


def sample_runs(now: datetime) -> dict[str, list[WorkerRun]]:
    """Newest first."""

    def run(
        name: str, entry: tuple[int, str | None, float, float, str, int, str | None]
    ) -> WorkerRun:
        number, reason, lasted, ended_ago, client, version, error = entry
        client_id, host, pid = _CLIENTS[client]
        ended = None if reason is None else now - timedelta(seconds=ended_ago)
        started = (ended or now) - timedelta(seconds=lasted)
        return WorkerRun(
            name=name,
            run=number,
            job_id=90_211 - (14 - number) * 37,
            attempt=1,
            client_id=client_id,
            host=host,
            pid=pid,
            config_version=version,
            started_at=started,
            ended_at=ended,
            end_reason=reason,
            error=error,
            now=now,
        )

    ledger = [
        (
            9 - n,
            "crash",
            7.9,
            21 + n * 4.0,
            "b",
            1,
            "ConnectionResetError: ledger API closed the connection",
        )
        for n in range(3)
    ]
    return {
        "feed-poller": [run("feed-poller", e) for e in _FEED_RUNS],
        "ledger-reconciler": [run("ledger-reconciler", e) for e in ledger],
    }


def sample_configs(now: datetime) -> dict[str, list[ConfigVersion]]:
    """Newest first."""

    def ago(seconds: float) -> datetime:
        return now - timedelta(seconds=seconds)

    url = "https://feeds.example.com/orders"
    return {
        "feed-poller": [
            ConfigVersion(
                3, {"url": url, "interval_s": 5, "batch_size": 200}, "ops@bastion", ago(17_600)
            ),
            ConfigVersion(
                2, {"url": url, "interval_s": 10, "batch_size": 200}, "ana@laptop", ago(104_500)
            ),
            ConfigVersion(1, {"url": url, "interval_s": 10}, "code default", ago(950_000)),
        ],
        "ledger-reconciler": [
            ConfigVersion(1, {"since": "2026-03-01"}, "code default", ago(950_000)),
        ],
    }


def sample_logs(now: datetime) -> dict[str, list[WorkerLogLine]]:
    """Oldest first, numbered as the worker's log numbers them."""

    def lines(
        entries: list[tuple[float, int, str, str]], run: int, first: int
    ) -> list[WorkerLogLine]:
        return [
            WorkerLogLine(first + i, run, now - timedelta(seconds=age), level, logger, message)
            for i, (age, level, logger, message) in enumerate(entries)
        ]

    return {
        "feed-poller": lines(_FEED_LOG, 14, 4_810),
        "ledger-reconciler": lines(_LEDGER_LOG, 9, 233),
    }
