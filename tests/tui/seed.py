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
    # Nothing heartbeats a seeded run after its first beat: with the default 1 s
    # interval and 5 s timeout a test slower than that (a loaded machine) would see
    # it go late, then stale.
    await conn.execute(
        "INSERT INTO pqw_persistent_worker"
        " (name, enabled, config, config_schema, run_started_at, heartbeat_interval,"
        "  heartbeat_timeout)"
        " VALUES ($1, $2, $3, $4, now() - interval '90 seconds', interval '10 minutes',"
        "         interval '1 hour')",
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
        VALUES (pqw_persistent_kind($1), 'persistent', 'running', jsonb_build_object('worker', $1),
                1, 1, 0, now(), ARRAY[$2], now(),
                pqw_persistent_run_key($1), B'11110001')
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


async def add_job_in_state(
    conn: Any,
    state: str,
    *,
    queue: str = "mail",
    kind: str = "email.send",
    attempt: int = 0,
    errors: list[dict[str, Any]] | None = None,
    args: dict[str, Any] | None = None,
) -> int:
    """A job as the engine would have left it in `state` (final states have finalized_at)."""
    job_id: int = await conn.fetchval(
        """
        INSERT INTO pqw_job (kind, queue, state, attempt, max_attempts, args, errors,
                             attempted_at, finalized_at, heartbeat_at, attempted_by)
        VALUES ($1, $2, $3::pqw_job_state, $4::smallint, 5, $5, $6,
                CASE WHEN $4 > 0 THEN now() END,
                CASE WHEN $3::text IN ('completed', 'cancelled', 'discarded') THEN now() END,
                CASE WHEN $3::text = 'running' THEN now() END,
                CASE WHEN $4 > 0 THEN ARRAY['client-test-1'] ELSE '{}' END)
        RETURNING id
        """,
        kind,
        queue,
        state,
        attempt,
        args or {"to": "ana@example.com"},
        errors or [],
    )
    return job_id


def smtp_error(attempt: int) -> dict[str, Any]:
    return {
        "attempt": attempt,
        "at": "2026-03-14T09:26:41+00:00",
        "error": "ConnectionError: SMTP server closed the connection",
        "trace": 'Traceback (most recent call last):\n  File "mailer.py", line 41, in send\n'
        "ConnectionError: SMTP server closed the connection",
    }


async def add_periodic(
    conn: Any, schedule_id: str = "report.build", *, enabled: bool = True
) -> None:
    await conn.execute(
        "INSERT INTO pqw_periodic_job (id, kind, schedule, args, enabled, next_run_at)"
        " VALUES ($1, $1, 'every 30s', '{}', $2, now() + interval '12 seconds')",
        schedule_id,
        enabled,
    )


async def job_row(conn: Any, job_id: int) -> Any:
    return await conn.fetchrow("SELECT * FROM pqw_job WHERE id = $1", job_id)
