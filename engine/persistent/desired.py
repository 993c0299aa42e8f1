"""What a heartbeat brings back to a running handler: the operator's stop, restart and config."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from engine import sql
from engine.errors import InvalidConfig
from engine.persistent.config_schema import validate_config
from engine.persistent.context import PersistentContext
from engine.persistent.options import PersistentWorker

log = logging.getLogger("pqw.persistent")


async def apply_desired_state(
    row: Mapping[str, Any],
    *,
    ctx: PersistentContext,
    worker: PersistentWorker,
    pool: asyncpg.Pool[Any],
    run_started_at: datetime | None,
    request_stop: Callable[[str], None],
) -> None:
    """Act on the worker's row as a heartbeat read it: stop, restart, or deliver new config."""
    if not row["enabled"]:
        request_stop("stop")
        return
    requested = row["restart_requested_at"]
    if requested is not None and run_started_at is not None and requested > run_started_at:
        request_stop("restart")
        return
    if row["config_version"] == ctx.config_version:
        return
    fresh = await pool.fetchrow(sql.WORKER_CONFIG, worker.name)
    if fresh is None:
        return
    try:
        validate_config(worker.schema, fresh["config"])
        ctx._apply_config(fresh["config"], fresh["config_version"])
    except (InvalidConfig, TypeError) as exc:
        log.error("pqw: %s: new config refused (%s); keeping the old one", worker.name, exc)
        ctx.config_version = fresh["config_version"]
        return
    log.info("pqw: persistent worker %s: config v%d delivered", worker.name, ctx.config_version)
    if ctx.restart_on_config_change:
        request_stop("config")
