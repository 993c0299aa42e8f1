"""Fixtures that start real clients against the test database and always stop them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from engine import Client, MaintenanceConfig

# Tests want retries and maintenance at once, not after the production defaults.
FAST = MaintenanceConfig(
    leader_ttl=2.0,
    leader_renew_interval=0.5,
    schedule_interval=0.1,
    rescue_interval=0.1,
    clean_interval=0.2,
    clients_interval=0.2,
    client_dead_after=2.0,
)


def no_backoff(_job: Any) -> float:
    return 0.0


@asynccontextmanager
async def clients_on(dsn: str, **defaults: Any) -> AsyncIterator[Callable[..., Client]]:
    """A factory of test clients on `dsn` (quick maintenance, no backoff, no migrating);
    every client it made is stopped (or closed) on the way out."""
    made: list[Client] = []

    def make(**kwargs: Any) -> Client:
        for name, value in defaults.items():
            kwargs.setdefault(name, value)
        kwargs.setdefault("auto_migrate", False)
        kwargs.setdefault("retry_backoff", no_backoff)
        kwargs.setdefault("maintenance", FAST)
        kwargs.setdefault("poll_interval", 0.2)
        client = Client(dsn, **kwargs)
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.stop(timeout=5)
            await client.close()


@pytest.fixture
async def make_client(dsn: str) -> AsyncIterator[Callable[..., Client]]:
    """Build clients on the test database; each is stopped (or closed) after the test."""
    async with clients_on(dsn) as make:
        yield make
