"""Rows for the dashboard to show, written straight into a test database."""

from __future__ import annotations

from typing import Any

CLIENT_ID = "client-test-1"

WORKER_SCHEMA: dict[str, Any] = {
    "title": "FeedConfig",
    "type": "object",
    "properties": {"interval": {"type": "integer"}, "url": {"type": "string"}},
    "required": ["interval"],
    "additionalProperties": False,
}


async def add_client(
    conn: Any,
    *,
    client_id: str = CLIENT_ID,
    host: str = "node-1",
    pid: int = 4242,
    persistent: tuple[str, ...] = ("feed",),
) -> str:
    await conn.execute(
        "INSERT INTO pqw_client (id, host, pid, queues, persistent) VALUES ($1, $2, $3, $4, $5)",
        client_id,
        host,
        pid,
        {"default": 5, "persistent": 2},
        list(persistent),
    )
    return client_id


async def add_worker(
    conn: Any,
    name: str = "feed",
    *,
    enabled: bool = True,
    config: dict[str, Any] | None = None,
    schema: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO pqw_persistent_worker (name, enabled, config, config_schema, run_started_at)"
        " VALUES ($1, $2, $3, $4, now() - interval '90 seconds')",
        name,
        enabled,
        config or {},
        schema,
    )


async def add_running_run(conn: Any, name: str = "feed", client_id: str = CLIENT_ID) -> int:
    """The worker's live run, held by `client_id` and heartbeating now: status running."""
    job_id: int = await conn.fetchval(
        """
        INSERT INTO pqw_job (kind, queue, state, args, max_attempts, attempt, priority,
                             attempted_at, attempted_by, heartbeat_at, unique_key, unique_states)
        VALUES ('pqw.persistent:' || $1, 'persistent', 'running', jsonb_build_object('worker', $1),
                1, 1, 0, now(), ARRAY[$2], now(),
                sha256(convert_to('pqw.persistent:' || $1, 'UTF8')), B'11110001')
        RETURNING id
        """,
        name,
        client_id,
    )
    return job_id


async def add_running_worker(conn: Any, name: str = "feed", **worker: Any) -> None:
    """A client that defines the worker, the worker's row, and its live run."""
    await add_client(conn, persistent=(name,))
    await add_worker(conn, name, **worker)
    await add_running_run(conn, name)


async def add_job(conn: Any, queue: str = "default", kind: str = "send_email") -> int:
    job_id: int = await conn.fetchval(
        "INSERT INTO pqw_job (kind, queue, max_attempts) VALUES ($1, $2, 25) RETURNING id",
        kind,
        queue,
    )
    return job_id


async def worker_row(conn: Any, name: str = "feed") -> Any:
    return await conn.fetchrow("SELECT * FROM pqw_persistent_worker WHERE name = $1", name)
