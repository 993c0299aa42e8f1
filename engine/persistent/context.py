"""What a running persistent handler gets: its live config, the stop signal, progress."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from engine.db import json_text
from engine.db.storable import json_problem
from engine.errors import InvalidConfig
from engine.persistent.config_schema import typed_config

# Progress goes with every heartbeat and into every overview: a status line, not data.
PROGRESS_MAX_BYTES = 16 * 1024


class PersistentContext:
    """What a running handler gets: live config, stop signal, progress reporting."""

    def __init__(
        self,
        name: str,
        *,
        run: int,
        job_id: int,
        config: dict[str, Any],
        config_version: int,
        config_type: Any = None,
        restart_on_config_change: bool = True,
    ) -> None:
        self.name = name
        self.run = run
        self.job_id = job_id
        self.restart_on_config_change = restart_on_config_change
        self._config_type = config_type
        self.config_version = config_version
        self.config: Any = typed_config(config_type, config)
        self.config_changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._interrupt = asyncio.Event()
        self.stop_reason: str | None = None
        self._progress: str | None = None
        # The local lease deadline, on the monotonic clock (see _extend_lease).
        self._lease_until = math.inf
        self._lease_timer: asyncio.TimerHandle | None = None
        self._on_lease_expired: Callable[[], None] | None = None

    @property
    def stopping(self) -> bool:
        """True once the run should end: stop, restart, new config, shutdown or lost lease.

        The lease counts as lost the moment its local deadline passes, with no round
        trip: a process resumed after a long pause (SIGSTOP, a stalled VM) sees
        stopping on its very first check, before anything else has run.
        """
        if not self._stop.is_set() and time.monotonic() >= self._lease_until:
            self._lease_expired()
        return self._stop.is_set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early when the run is asked to stop, the config changes, or the
        lease deadline passes."""
        if self.stopping:
            return
        interrupt = self._interrupt
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await interrupt.wait()
        except TimeoutError:
            pass

    def progress(self, data: dict[str, Any]) -> None:
        """Report a small status dict; the dashboard shows it (sent with the next heartbeat).

        InvalidConfig, and the last progress kept, when it is not a JSON object Postgres
        can store within PROGRESS_MAX_BYTES: a heartbeat must never carry what the
        database would refuse, or the run would lose its lease over a status line.
        """
        try:
            text = json_text.dumps(dict(data))
        except (TypeError, ValueError) as exc:
            raise InvalidConfig(f"progress must be a JSON-serializable dict: {exc}") from exc
        problem = json_problem(text, PROGRESS_MAX_BYTES)
        if problem is not None:
            raise InvalidConfig(f"progress {problem}")
        self._progress = text

    def _take_progress(self) -> str | None:
        progress, self._progress = self._progress, None
        return progress

    def _keep_progress(self, progress: str | None) -> None:
        """A heartbeat carrying progress failed: send it with the next, unless newer came."""
        if self._progress is None:
            self._progress = progress

    def _wake_sleepers(self) -> None:
        self._interrupt.set()
        self._interrupt = asyncio.Event()

    def _extend_lease(self, until: float) -> None:
        """The lease is confirmed until `until` (time.monotonic(), the loop's clock):
        the last confirmed heartbeat's send time + heartbeat_timeout - heartbeat_interval."""
        self._lease_until = until
        if self._lease_timer is not None:
            self._lease_timer.cancel()
        if not self._stop.is_set():
            # Wakes sleepers at the deadline even when nothing looks at `stopping`.
            loop = asyncio.get_running_loop()
            self._lease_timer = loop.call_at(until, self._check_lease)

    def _check_lease(self) -> None:
        self._lease_timer = None
        _ = self.stopping

    def _end_lease(self) -> None:
        """The run is over: its lease deadline means nothing any more."""
        self._lease_until = math.inf
        if self._lease_timer is not None:
            self._lease_timer.cancel()
            self._lease_timer = None

    def _lease_expired(self) -> None:
        if self._on_lease_expired is not None:
            self._on_lease_expired()
        self._request_stop("lease lost")

    def _request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()
        self._wake_sleepers()

    def _apply_config(self, config: dict[str, Any], version: int) -> None:
        self.config = typed_config(self._config_type, config)
        self.config_version = version
        self.config_changed.set()
        self._wake_sleepers()
