"""The client registry's upkeep: clients that stopped heartbeating are marked dead, then pruned."""

from __future__ import annotations

import logging

from engine import sql
from engine.leadership.fence import Fence
from engine.maintenance.config import MaintenanceConfig

log = logging.getLogger("pqw.maintenance")


async def tend_clients(fence: Fence, config: MaintenanceConfig) -> None:
    async with fence() as conn:
        dead = await conn.fetch(sql.MARK_DEAD_CLIENTS, config.client_dead_after)
        await conn.execute(sql.PRUNE_CLIENTS, config.client_prune_after)
    for r in dead:
        log.warning("pqw: client %s stopped heartbeating; marked dead", r["id"])
