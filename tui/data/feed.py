"""The one way to the database: polls and actions through the AdminApi; trouble becomes a state.

Nothing here raises into the app. A failed poll becomes a ConnectionState
(reconnecting with a backoff, or not migrated) posted as a message; a failed
action becomes an ActionFailed with one readable line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from textual.message import Message

from engine.admin import (
    DatabaseUnavailable,
    NotFound,
    Overview,
    PqwError,
    SchemaError,
    connection_failure,
    is_connection_error,
)
from tui.data.source import AdminCall, Connector

log = logging.getLogger("pqw.tui")

T = TypeVar("T")

# A poll or action that takes longer than this is treated as a lost connection:
# a half-open TCP connection would otherwise hang the dashboard for minutes.
QUERY_TIMEOUT = 10.0
# How often to look again at a database that has no pqw schema yet.
NOT_MIGRATED_RETRY = 2.0


def backoff_delay(attempt: int) -> float:
    """Seconds before reconnect attempt `attempt` + 1: 0.5, 1, 2, 4, 8, then 10."""
    return min(10.0, 0.5 * (1 << min(max(0, attempt - 1), 8)))


@dataclass(frozen=True)
class Connecting:
    """Before the first poll has answered."""


@dataclass(frozen=True)
class Connected:
    pass


@dataclass(frozen=True)
class Reconnecting:
    """Polls are failing; the next try is at `retry_at` (time.monotonic)."""

    attempt: int
    retry_at: float
    reason: str
    # False when the database answered but the read failed (a bug, not an outage).
    connection_lost: bool = True


@dataclass(frozen=True)
class NotMigrated:
    """The database is reachable but has no (or an older) pqw schema."""

    reason: str


ConnectionState = Connecting | Connected | Reconnecting | NotMigrated


class OverviewFetched(Message):
    """A fresh overview; `started_at` is when the poll began (time.monotonic)."""

    def __init__(self, overview: Overview, started_at: float, finished_at: float) -> None:
        super().__init__()
        self.overview = overview
        self.started_at = started_at
        self.finished_at = finished_at


class ConnectionChanged(Message):
    def __init__(self, state: ConnectionState, previous: ConnectionState) -> None:
        super().__init__()
        self.state = state
        self.previous = previous


class ActionFailed(Exception):
    """An operator action did not happen; str() is one line fit for the screen."""


class Missing(ActionFailed):
    """What the action or read named (a job, a schedule) does not exist, or no longer does."""


def is_outage(exc: BaseException) -> bool:
    """True when exc means the database is away (wait and reconnect), not a bad read."""
    return isinstance(exc, DatabaseUnavailable) or is_connection_error(exc)


def describe_failure(exc: BaseException) -> str:
    """One readable line for an exception from the database or the engine."""
    if isinstance(exc, PqwError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return f"the database did not answer within {QUERY_TIMEOUT:g}s"
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    name = type(exc).__name__
    return f"{name}: {detail}" if detail else name


class Feed:
    """The dashboard's one way to the database: poll() for data, act() for changes."""

    def __init__(
        self,
        connector: Connector,
        post: Callable[[Message], object],
        *,
        backoff: Callable[[int], float] = backoff_delay,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connector = connector
        self._post = post
        self._backoff = backoff
        self._monotonic = monotonic
        self.state: ConnectionState = Connecting()

    def _set_state(self, state: ConnectionState) -> None:
        previous, self.state = self.state, state
        if state != previous:
            self._post(ConnectionChanged(state, previous))

    async def poll(self) -> float | None:
        """Fetch one overview and post it; seconds until the next try, None for the usual rate."""
        started = self._monotonic()
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancel that
            # lands as its call finishes (the engine's Elector.run says more).
            async with asyncio.timeout(QUERY_TIMEOUT):
                overview = await self._call(lambda admin: admin.overview())
        except SchemaError as exc:
            await self._reset_quietly()
            self._set_state(NotMigrated(str(exc)))
            return NOT_MIGRATED_RETRY
        except Exception as exc:
            lost = is_outage(exc)
            if not lost:
                log.exception("dashboard poll failed")
            # Start the next try from a fresh pool either way: a pool whose
            # connections were cut can fail in ways that do not look like an
            # outage (its own reconnect is refused), and three connections are cheap.
            await self._reset_quietly()
            attempt = self.state.attempt + 1 if isinstance(self.state, Reconnecting) else 1
            delay = self._backoff(attempt)
            self._set_state(
                Reconnecting(attempt, self._monotonic() + delay, describe_failure(exc), lost)
            )
            return delay
        self._set_state(Connected())
        self._post(OverviewFetched(overview, started, self._monotonic()))
        return None

    async def _call(self, call: AdminCall[T]) -> T:
        """`call` on the open AdminApi; a raw connection error is told as a failed connect."""
        try:
            return await call(await self.connector.open())
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            # A pool reconnecting on its own raises raw socket errors; say them
            # the way the engine says a failed connect (host named, no password).
            if is_connection_error(exc):
                raise connection_failure(self.connector.dsn, exc) from exc
            raise

    async def _reset_quietly(self) -> None:
        try:
            await self.connector.reset()
        except Exception:
            log.exception("dropping the dashboard's connections failed")

    async def act(self, action: AdminCall[T]) -> T:
        """Run one operator action; ActionFailed (one line) when it did not happen."""
        try:
            async with asyncio.timeout(QUERY_TIMEOUT):
                return await self._call(action)
        except Exception as exc:
            if is_outage(exc):
                raise ActionFailed(f"database unavailable: {describe_failure(exc)}") from exc
            if isinstance(exc, NotFound):
                raise Missing(describe_failure(exc)) from exc
            if not isinstance(exc, PqwError):
                log.exception("dashboard action failed")
            raise ActionFailed(describe_failure(exc)) from exc

    async def read(self, query: AdminCall[T]) -> T:
        """One read for a screen (a page of jobs, one job), failing like an action does."""
        return await self.act(query)

    async def close(self) -> None:
        try:
            await self.connector.close()
        except Exception:
            log.exception("closing the dashboard's connections failed")
