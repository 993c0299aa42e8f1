"""Control messages: what one process tells the others through the pqw_control channel.

A message only says "look now"; the database row it refers to always holds the
truth, so a lost notification delays a change (until the next poll or
heartbeat) but never loses it.
"""

from __future__ import annotations

import json
from typing import Any

from engine import sql
from engine.db.pool import Conn


def cancel_job(job_id: int) -> dict[str, Any]:
    return {"action": "cancel", "job_id": job_id}


def queue_paused(queue: str, paused: bool) -> dict[str, Any]:
    return {"action": "pause" if paused else "resume", "queue": queue}


def queue_concurrency(queue: str, concurrency: int | None) -> dict[str, Any]:
    return {"action": "concurrency", "queue": queue, "concurrency": concurrency}


def worker_changed(name: str, change: str) -> dict[str, Any]:
    """change: start, stop, restart or config."""
    return {"action": "worker", "name": name, "change": change}


async def send(conn: Conn, message: dict[str, Any]) -> None:
    """Notify every client; inside a transaction it is sent at commit."""
    await conn.execute(sql.NOTIFY, sql.CONTROL_CHANNEL, json.dumps(message))
