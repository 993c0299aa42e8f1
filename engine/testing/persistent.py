"""Run a persistent worker's handler for N iterations with a context that needs no database.

The fake context is a PersistentContext (a subclass: mypy checks every override
against the real one, and a handler typed `ctx: PersistentContext` takes it).
One iteration is one `ctx.sleep(...)`, which returns at once: after the N-th,
`ctx.stopping` is true and the handler's loop ends. Checkpoints are validated as
the real ones are (JSON, at most 256 KiB) and kept; config changes arrive after
the iteration they are given for, as an operator's would: a new run when the
worker restarts on config changes (the default), live in `ctx.config` otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.client import Client
from engine.persistent.config_schema import config_schema, validate_config
from engine.persistent.context import PersistentContext
from engine.persistent.options import PersistentHandler, PersistentWorker
from engine.persistent.state import encode_state


@dataclass
class PersistentOutcome:
    """What a handler did under run_persistent.

    `ended` is "stopped" (it returned once told to: after the last iteration, or on
    `stop_reason`), "returned" (by itself, before that) or "crashed" (`error`).
    """

    ended: str
    iterations: int
    runs: int
    stop_reason: str | None
    error: BaseException | None
    state: Any  # the last checkpoint (the given state when none was made)
    config: Any  # the config the last run had
    config_version: int
    checkpoints: list[Any] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)  # (level, message)
    progress: list[dict[str, Any]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)


@dataclass
class _Driver:
    """Counts iterations across runs and injects the test's config changes and stop."""

    iterations: int
    changes: dict[int, dict[str, Any]]
    stop_reason: str
    outcome: PersistentOutcome

    def after_sleep(self, ctx: FakeContext) -> None:
        done = self.outcome.iterations = self.outcome.iterations + 1
        change = self.changes.get(done)
        if change is not None:
            ctx._apply_config(change, ctx.config_version + 1)
            if ctx.restart_on_config_change:
                ctx._request_stop("config")
        if done >= self.iterations:
            ctx._request_stop(self.stop_reason)


class FakeContext(PersistentContext):
    """A PersistentContext whose sleeps count iterations and whose checkpoints, logs and
    progress are kept for the test."""

    def __init__(self, driver: _Driver, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._driver = driver
        self._checkpoints = self._store

    async def _store(self, state: Any) -> Any:
        text, _ = encode_state(self.name, state)  # InvalidCheckpoint as the real one
        stored = json.loads(text)
        self._driver.outcome.checkpoints.append(stored)
        return stored

    async def sleep(self, seconds: float) -> None:
        if self.stopping:
            return
        self._driver.outcome.sleeps.append(seconds)
        await asyncio.sleep(0)  # others run, as they would while it sleeps
        self._driver.after_sleep(self)

    def log(self, message: object, *, level: int | str = logging.INFO) -> None:
        super().log(message, level=level)
        number = logging.getLevelName(level.upper()) if isinstance(level, str) else level
        self._driver.outcome.logs.append(
            (number if isinstance(number, int) else logging.INFO, str(message))
        )

    def progress(self, data: dict[str, Any]) -> None:
        super().progress(data)
        self._driver.outcome.progress.append(dict(data))


async def run_persistent(
    handler: PersistentHandler,
    *,
    iterations: int = 1,
    config: Mapping[str, Any] | None = None,
    state: Any = None,
    config_changes: Mapping[int, Mapping[str, Any]] | None = None,
    client: Client | None = None,
    name: str | None = None,
    config_type: Any = None,
    restart_on_config_change: bool | None = None,
    stop_reason: str = "stop",
    timeout: float = 10.0,
) -> PersistentOutcome:
    """Run `handler` with a fake context for `iterations` iterations (ctx.sleep calls).

    `config` (else the worker's default config, when `client` defines it) and
    `state` (the last checkpoint, as a new run would find it) are what the first
    run gets; `config_changes` maps an iteration to the config delivered after it.
    With `client` (and `name`, or the handler itself), the worker's config type and
    options are the ones it was defined with. TimeoutError when the handler has not
    ended after `timeout` seconds (a loop that never calls ctx.sleep).
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    worker = _defined(client, name, handler)
    if worker is not None:
        name = worker.name
        config_type = worker.config_type if config_type is None else config_type
        if restart_on_config_change is None:
            restart_on_config_change = worker.restart_on_config_change
        if config is None:
            config = worker.config
    restart = True if restart_on_config_change is None else restart_on_config_change
    schema = config_schema(config_type) if config_type is not None else None
    current = validate_config(schema, dict(config or {}))
    changes = {k: validate_config(schema, dict(c)) for k, c in (config_changes or {}).items()}
    worker_name: str = name or str(getattr(handler, "__name__", "worker"))
    outcome = PersistentOutcome(
        ended="stopped",
        iterations=0,
        runs=0,
        stop_reason=None,
        error=None,
        state=state,
        config=None,
        config_version=1,
    )
    driver = _Driver(iterations, changes, stop_reason, outcome)
    version = 1
    try:
        async with asyncio.timeout(timeout):
            while True:
                outcome.runs += 1
                ctx = FakeContext(
                    driver,
                    worker_name,
                    run=outcome.runs,
                    job_id=outcome.runs,
                    config=current,
                    config_version=version,
                    config_type=config_type,
                    restart_on_config_change=restart,
                    state=outcome.state,
                )
                outcome.config, outcome.config_version = ctx.config, version
                try:
                    await handler(ctx)
                except Exception as exc:
                    outcome.ended, outcome.error = "crashed", exc
                finally:
                    outcome.state = ctx.state
                    outcome.stop_reason = ctx.stop_reason
                if outcome.error is not None:
                    break
                if ctx.stop_reason == "config" and outcome.iterations < iterations:
                    # The next run starts with the new config and the last checkpoint.
                    current, version = changes[outcome.iterations], ctx.config_version
                    continue
                outcome.ended = "stopped" if ctx.stopping else "returned"
                outcome.config, outcome.config_version = ctx.config, ctx.config_version
                break
    except TimeoutError:
        raise TimeoutError(
            f"run_persistent: {worker_name} did not end within {timeout:g}s after "
            f"{outcome.iterations} of {iterations} iteration(s); an iteration is one "
            "ctx.sleep(...): does its loop sleep with ctx.sleep?"
        ) from None
    return outcome


def _defined(
    client: Client | None, name: str | None, handler: PersistentHandler
) -> PersistentWorker | None:
    if client is None:
        return None
    workers = client.persistent_manager.workers
    if name is not None:
        if name not in workers:
            raise LookupError(f"no persistent worker {name!r} on this client")
        return workers[name]
    for worker in workers.values():
        if worker.fn is handler:
            return worker
    raise LookupError("this handler is no persistent worker of this client")
