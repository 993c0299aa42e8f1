"""One LISTEN connection per client: dispatches notifications, reconnects with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from engine.db.outage import retry_delay
from engine.db.pool import connect

log = logging.getLogger("pqw.notifier")

KEEPALIVE = 5.0  # a silently dead connection is noticed within this many seconds


class Notifier:
    def __init__(
        self,
        dsn: str,
        handlers: dict[str, Callable[[str], None]],
        *,
        on_connect: Callable[[], None] | None = None,
        application_name: str = "pqw",
    ) -> None:
        self._dsn = dsn
        self._application_name = application_name
        self._handlers = handlers
        self._on_connect = on_connect
        self.connected = asyncio.Event()
        self.conn: asyncpg.Connection[Any] | None = None

    async def wait_connected(self, timeout: float) -> None:
        """Return once listening, or after `timeout` (saying that it polls meanwhile)."""
        try:
            async with asyncio.timeout(timeout):
                await self.connected.wait()
        except TimeoutError:
            log.warning("pqw: notifications not connected yet; polling meanwhile")

    def _dispatch(self, channel: str, payload: str) -> None:
        handler = self._handlers.get(channel)
        if handler is None:
            return
        try:
            handler(payload)
        except Exception:
            log.exception("pqw: handling a notification on %s failed", channel)

    async def run(self) -> None:
        failures = 0
        while True:
            lost = asyncio.Event()
            try:
                conn = await connect(self._dsn, application_name=self._application_name)
            except Exception as exc:
                failures += 1
                if failures == 1:
                    log.warning("pqw: notifications unavailable (%s); retrying", exc)
                await asyncio.sleep(retry_delay(failures))
                continue
            self.conn = conn
            try:
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                for channel in self._handlers:
                    await conn.add_listener(
                        channel, lambda _c, _pid, ch, payload: self._dispatch(ch, payload)
                    )
                if failures:
                    log.info("pqw: notifications connected again")
                failures = 0
                self.connected.set()
                if self._on_connect is not None:
                    self._on_connect()
                while not lost.is_set():
                    try:
                        async with asyncio.timeout(KEEPALIVE):
                            await lost.wait()
                    except TimeoutError:
                        async with asyncio.timeout(KEEPALIVE):
                            await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                await self._close(conn)
                raise
            except Exception as exc:
                log.warning("pqw: notification connection lost (%s); reconnecting", exc)
            self.connected.clear()
            self.conn = None
            await self._close(conn)
            failures += 1
            await asyncio.sleep(retry_delay(failures))

    @staticmethod
    async def _close(conn: asyncpg.Connection[Any]) -> None:
        try:
            if not conn.is_closed():
                async with asyncio.timeout(2.0):
                    await conn.close()
        except Exception:
            conn.terminate()


def listen_or_poll(
    dsn: str | None,
    handlers: dict[str, Callable[[str], None]],
    *,
    on_connect: Callable[[], None],
    client_id: str,
    poll_interval: float,
) -> Notifier | None:
    """A Notifier on `dsn`, or None (after saying so in one line) when there is no URL
    a session can LISTEN on: a transaction pooler hands each transaction any server
    session, so notifications sent to a LISTEN there reach nobody."""
    if dsn is not None:
        return Notifier(dsn, handlers, on_connect=on_connect, application_name=f"pqw {client_id}")
    log.warning(
        "pqw: client %s: the database URL is transaction-pooled and no direct URL "
        "(PQW_DIRECT_URL) was given, so no LISTEN: new jobs are found by polling every "
        "%ss, and operator changes and cancellations arrive with the next heartbeat",
        client_id,
        poll_interval,
    )
    return None
