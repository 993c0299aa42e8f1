"""What a run logs, kept in its worker's log ring: records of the standard logging module
created inside the run's task tree, and ctx.log() lines.

Records are picked up where they are made (a log record factory wrapping the one in
place), so only the run's own tasks and the threads it starts with asyncio.to_thread
are heard (a context variable marks them), and no handler of the application's
logging setup is added or replaced. On the handler's path a line costs a lock and a
deque append: lines over the rate are dropped and counted, and a writer task of the
run sends the rest in one statement every half second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar, copy_context
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from engine import sql
from engine.persistent.memory import (
    LINE_CHARS,
    LOG_BUFFER,
    LOG_BURST,
    LOG_FLUSH_INTERVAL,
    LOG_LINES,
    LOG_RATE,
)

log = logging.getLogger("pqw.persistent")

# The log of the run whose task tree this is (None outside every run).
_current: ContextVar[RunLog | None] = ContextVar("pqw_run_log", default=None)
_install_lock = threading.Lock()
_installed = False
# Lines written in one statement at most (the ring must hold a whole batch).
BATCH = min(500, LOG_LINES)
_formatter = logging.Formatter()


@dataclass(frozen=True)
class LogLine:
    at: datetime
    level: int
    logger: str
    message: str
    exc_info: Any = None  # formatted (a traceback) when written, off the handler's path


def install_capture() -> None:
    """Hear records made anywhere in this process (once): the factory hands each to the
    log of the run it was made in, if any."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            run_log = _current.get()
            if run_log is not None:
                run_log.add_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def _clean(text: str) -> str:
    """Text Postgres can store: no NUL, no lone surrogates; cut to LINE_CHARS."""
    if len(text) > LINE_CHARS:
        text = text[: LINE_CHARS - 1] + "…"
    return text.replace("\x00", "\\x00").encode("utf-8", "replace").decode("utf-8")


class RunLog:
    """One run's lines on their way to the worker's ring: rate-capped, bounded, batched."""

    def __init__(
        self, name: str, run: int, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.run = run
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._lines: deque[LogLine] = deque()
        self._tokens = float(LOG_BURST)
        self._filled_at = monotonic()
        self.dropped = 0  # since the last "dropped" line
        self.written = 0
        self._writer: asyncio.Task[None] | None = None

    def context(self) -> Any:
        """A copy of the current context in which this run log hears records."""
        context = copy_context()
        context.run(_current.set, self)
        return context

    def _admit(self) -> bool:
        """Take a token (under the lock); False: over the rate or the buffer, dropped."""
        now = self._monotonic()
        self._tokens = min(float(LOG_BURST), self._tokens + (now - self._filled_at) * LOG_RATE)
        self._filled_at = now
        if self._tokens < 1.0 or len(self._lines) >= LOG_BUFFER:
            self.dropped += 1
            return False
        self._tokens -= 1.0
        return True

    def add(self, level: int, logger: str, message: str) -> None:
        """One line (ctx.log, and pqw's own lines about the run)."""
        line = LogLine(datetime.now(UTC), level, logger, message)
        with self._lock:
            if self._admit():
                self._lines.append(line)

    def add_record(self, record: logging.LogRecord) -> None:
        """A record made in the run (its traceback, if any, is formatted when written)."""
        with self._lock:
            if not self._admit():
                return
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string is the caller's bug: say so, go on
            message = f"{record.msg!r} (unformattable: {exc})"
        line = LogLine(
            datetime.fromtimestamp(record.created, UTC),
            record.levelno,
            record.name,
            message,
            record.exc_info or record.exc_text,
        )
        with self._lock:
            self._lines.append(line)

    def _take(self) -> tuple[list[LogLine], int]:
        with self._lock:
            count = min(BATCH, len(self._lines))
            lines = [self._lines.popleft() for _ in range(count)]
            dropped, self.dropped = self.dropped, 0
        return lines, dropped

    def _put_back(self, lines: list[LogLine], dropped: int) -> None:
        """A write failed: its lines wait for the next (the newest the buffer holds)."""
        with self._lock:
            room = max(0, LOG_BUFFER - len(self._lines))
            kept = lines[len(lines) - room :] if room < len(lines) else lines
            self._lines.extendleft(reversed(kept))
            self.dropped += dropped + len(lines) - len(kept)

    async def flush(self, pool: asyncpg.Pool[Any]) -> None:
        """Write every waiting line, a batch a statement; a failed write keeps them waiting."""
        while True:
            lines, dropped = self._take()
            if not lines and not dropped:
                return
            rows = [_formatted(line) for line in lines]
            if dropped:
                rows.append(
                    LogLine(
                        datetime.now(UTC),
                        logging.WARNING,
                        "pqw",
                        f"{dropped} line{'s' if dropped != 1 else ''} dropped (a run may log "
                        f"{LOG_RATE:g} lines a second, {LOG_BURST} at once)",
                    )
                )
            try:
                await pool.execute(
                    sql.APPEND_WORKER_LOG,
                    self.name,
                    self.run,
                    [r.at for r in rows],
                    [r.level for r in rows],
                    [_clean(r.logger)[:200] for r in rows],
                    [_clean(r.message) for r in rows],
                    LOG_LINES,
                )
            except Exception:
                self._put_back(lines, dropped)
                raise
            self.written += len(rows)

    def start_writing(self, pool: asyncpg.Pool[Any]) -> None:
        self._writer = asyncio.create_task(self._keep_writing(pool), name=f"pqw:log:{self.name}")

    async def _keep_writing(self, pool: asyncpg.Pool[Any]) -> None:
        failing = False
        while True:
            await asyncio.sleep(LOG_FLUSH_INTERVAL)
            try:
                await self.flush(pool)
                failing = False
            except Exception as exc:
                if not failing:
                    log.warning(
                        "pqw: persistent worker %s: log lines not written (%s); retrying",
                        self.name,
                        exc,
                    )
                failing = True

    def stop_writing(self) -> None:
        if self._writer is not None:
            self._writer.cancel()

    async def close(self, pool: asyncpg.Pool[Any], timeout: float) -> None:
        """The run is over: write what is left (for at most `timeout` seconds)."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        try:
            async with asyncio.timeout(timeout):
                await self.flush(pool)
        except Exception as exc:
            log.warning("pqw: persistent worker %s: last log lines lost (%s)", self.name, exc)


def _formatted(line: LogLine) -> LogLine:
    """The line with its traceback appended to the message."""
    if line.exc_info is None:
        return line
    if isinstance(line.exc_info, str):
        trace = line.exc_info
    else:
        try:
            trace = _formatter.formatException(line.exc_info)
        except Exception as exc:
            trace = f"(traceback not formatted: {exc})"
    return LogLine(line.at, line.level, line.logger, f"{line.message}\n{trace}")
