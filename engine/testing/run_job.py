"""Run one handler with a job made from a kind and args: no started client, no database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.client import Client
from engine.jobs.insert_params import explicit_opts, template_for
from engine.jobs.kinds import JobHandler, JobKind, define_kind
from engine.jobs.retry import default_backoff
from engine.jobs.work_middleware import WorkHook
from engine.testing.attempt import run_attempt
from engine.testing.outcome import JobOutcome
from engine.types import Job, JobState

# Who the job says ran it (Job.attempted_by).
RUNNER = "pqw.testing"


async def run_job(
    target: Client | JobHandler[Any, Any] | Callable[[Job], Any],
    kind: str | None = None,
    args: Mapping[str, Any] | None = None,
    *,
    attempt: int = 1,
    job_id: int = 1,
    middleware: bool = True,
    stop_after: float | None = None,
    **options: Any,
) -> JobOutcome:
    """Run the handler of `kind` once, as a started client would, and say how it ended.

    `target` is a Client (its handler for `kind`), a handler `@client.job` returned
    (`kind` may be left out), or a plain function taking a Job (give `kind`). The
    job has the kind's registered defaults, `options` (queue, priority,
    max_attempts, tags, metadata) over them, `args` as the database would hand
    them back (JSON), and `attempt` as its attempt number (max_attempts decides
    whether a failure is RETRYABLE or DISCARDED). The client's work middleware
    run around it unless `middleware=False`; its timeout applies. With `stop_after`,
    `job.stopping` turns true after that many seconds, as at a graceful shutdown
    (`job.stop_reason` "shutdown"): a handler that loops until told to stop returns.

    What the handler inserts through a client meanwhile (insert, insert_many,
    enqueue) is not written anywhere: each becomes a Job in `inserted`, with a
    negative id. Nothing here touches a database; the handler itself may.
    """
    client, definition = _resolve(target, kind)
    opts = definition.opts.merged_with(explicit_opts(None, options))
    template = template_for(definition.kind, opts)
    row = template.row({} if args is None else args)
    now = datetime.now(UTC)
    job = Job(
        id=job_id,
        kind=definition.kind,
        args=json.loads(row.args_json),
        queue=template.queue,
        priority=template.priority,
        state=JobState.RUNNING,
        attempt=attempt,
        max_attempts=template.max_attempts,
        created_at=now,
        scheduled_at=now,
        attempted_at=now,
        metadata=dict(template.metadata),
        tags=list(template.tags),
        attempted_by=[RUNNER],
        heartbeat_at=now,
    )
    hooks: Sequence[WorkHook] = client.middlewares.work if client is not None and middleware else ()
    backoff = client.retry_backoff if client is not None else default_backoff
    known = sorted(client.kinds) if client is not None else [definition.kind]
    stop = None
    if stop_after is not None:
        stop = asyncio.get_running_loop().call_later(stop_after, job._request_stop, "shutdown")
    try:
        _, outcome = await run_attempt(
            job,
            definition,
            hooks=hooks,
            backoff=backoff,
            known_kinds=lambda: known,
            replace_inserts=True,
        )
    finally:
        if stop is not None:
            stop.cancel()
    return outcome


def _resolve(target: Any, kind: str | None) -> tuple[Client | None, JobKind]:
    """The client (if any) and the registered kind to run."""
    if isinstance(target, Client):
        if kind is None:
            raise TypeError("run_job(client, kind, args): give the kind of job to run")
        definition = target.kinds.get(kind)
        if definition is None:
            here = ", ".join(sorted(target.kinds)) or "none"
            raise LookupError(f"no handler for job kind {kind!r} on this client (kinds: {here})")
        return target, definition
    if isinstance(target, JobHandler):
        if kind is not None and kind != target.kind:
            raise ValueError(f"this handler runs {target.kind!r}, not {kind!r}")
        owner = target.owner if isinstance(target.owner, Client) else None
        if target.definition is not None:
            return owner, target.definition
        return owner, define_kind(target.kind, target.fn, registered=())
    if callable(target):
        if kind is None:
            raise TypeError("run_job(function, kind, args): give the kind of job it runs")
        return None, define_kind(kind, target, registered=())
    raise TypeError(
        f"run_job needs a Client, a handler from @client.job or a function, got {target!r}"
    )
