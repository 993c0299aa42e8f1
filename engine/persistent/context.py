"""What a running persistent handler gets: its live config, the stop signal, progress."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.db import json_text
from engine.errors import InvalidConfig
from engine.persistent.config_schema import typed_config


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

    @property
    def stopping(self) -> bool:
        """True once the run should end: stop, restart, new config, shutdown or lost lease."""
        return self._stop.is_set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early when the run is asked to stop or the config changes."""
        if self.stopping:
            return
        interrupt = self._interrupt
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await interrupt.wait()
        except TimeoutError:
            pass

    def progress(self, data: dict[str, Any]) -> None:
        """Report a small status dict; the dashboard shows it (sent with the next heartbeat)."""
        try:
            self._progress = json_text.dumps(dict(data))
        except (TypeError, ValueError) as exc:
            raise InvalidConfig(f"progress must be a JSON-serializable dict: {exc}") from exc

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
