"""The state a run carries: handed over as the run is claimed, checkpointed under its lease."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from engine import sql
from engine.db import json_text
from engine.db.outage import is_connection_error
from engine.errors import InvalidCheckpoint, InvalidConfig, LeaseLost
from engine.jobs.unique import NON_FINAL_MASK
from engine.persistent.config_schema import validate_config
from engine.persistent.context import PersistentContext
from engine.persistent.memory import MAX_STATE_BYTES
from engine.persistent.options import PersistentWorker
from engine.types import Job

log = logging.getLogger("pqw.persistent")


@dataclass(frozen=True)
class Claim:
    """What a run starts with: the worker's desired state, its config, and its state."""

    enabled: bool
    config: dict[str, Any]
    config_version: int
    restart_requested_at: datetime | None
    run_started_at: datetime
    runs: int
    consecutive_failures: int
    state: Any  # the last checkpoint (None: none)
    state_version: int  # 0: never checkpointed


async def claim_run(pool: asyncpg.Pool[Any], job: Job, client_id: str, name: str) -> Claim | None:
    """Claim the run, record it in the history and read its state, in one transaction;
    None when the attempt is not ours (or the job is not a run pqw made)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            sql.CLAIM_RUN, job.id, job.attempt, client_id, name, NON_FINAL_MASK
        )
        if row is None:
            return None
        await conn.execute(
            sql.RECORD_RUN_START,
            job.id,
            job.attempt,
            client_id,
            name,
            row["runs"],
            row["config_version"],
            row["run_started_at"],
        )
        state = await conn.fetchrow(sql.CLAIMED_STATE, name)
    return Claim(
        enabled=row["enabled"],
        config=row["config"],
        config_version=row["config_version"],
        restart_requested_at=row["restart_requested_at"],
        run_started_at=row["run_started_at"],
        runs=row["runs"],
        consecutive_failures=row["consecutive_failures"],
        state=state["state"] if state is not None else None,
        state_version=state["version"] if state is not None else 0,
    )


def encode_state(name: str, state: Any) -> tuple[str, int]:
    """The state's JSON text and its size in bytes, or InvalidCheckpoint."""
    try:
        text = json_text.dumps(state)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidCheckpoint(
            f"persistent worker {name!r}: the state must be JSON (dicts, lists, strings, "
            f"numbers, booleans, None): {exc}"
        ) from exc
    if size > MAX_STATE_BYTES:
        raise InvalidCheckpoint(
            f"persistent worker {name!r}: the state is {size:,} bytes of JSON, over the "
            f"{MAX_STATE_BYTES:,}-byte ({MAX_STATE_BYTES // 1024} KiB) limit; keep offsets "
            "and cursors in it, and the data itself in tables of your own"
        )
    return text, size


class Checkpoints:
    """One run's checkpoints: written only while its lease holds."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        job: Job,
        *,
        name: str,
        run: int,
        client_id: str,
        lease_until: Callable[[], float],
        lease_lost: Callable[[], bool],
        lose_lease: Callable[[str], None],
    ) -> None:
        self.pool = pool
        self.job = job
        self.name = name
        self.run = run
        self.client_id = client_id
        self._lease_until = lease_until  # time.monotonic() the lease is confirmed until
        self._lease_lost = lease_lost
        self._lose_lease = lose_lease

    async def write(self, state: Any) -> Any:
        """Store the state; what the next run will read (a JSON copy). LeaseLost, after
        which the run stops, when the lease is gone; InvalidCheckpoint for a bad state."""
        text, size = encode_state(self.name, state)
        if self._lease_lost():
            raise self._lost("its lease was lost before the checkpoint")
        version = await self._write(text, size)
        if version is None:
            self._lose_lease("a checkpoint found the lease taken over")
            raise self._lost("its run was taken back (another run may hold the lease now)")
        return json.loads(text)

    async def _write(self, text: str, size: int) -> int | None:
        """Write, retrying a lost connection while the lease can still hold."""
        while True:
            try:
                version: int | None = await self.pool.fetchval(
                    sql.CHECKPOINT_STATE,
                    self.job.id,
                    self.job.attempt,
                    self.name,
                    text,
                    size,
                    self.run,
                    self.client_id,
                )
                return version
            except asyncpg.DataError as exc:
                # e.g. "\u0000" in a string: JSON has it, Postgres' jsonb does not.
                raise InvalidCheckpoint(
                    f"persistent worker {self.name!r}: Postgres refused the state: {exc}"
                ) from exc
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                if self._lease_lost() or time.monotonic() >= self._lease_until():
                    self._lose_lease(f"a checkpoint could not reach the database ({exc})")
                    raise self._lost("the lease could not be confirmed") from exc
                await asyncio.sleep(0.1)

    def _lost(self, why: str) -> LeaseLost:
        return LeaseLost(
            f"persistent worker {self.name!r}, run {self.run}: checkpoint refused, {why}; "
            "nothing was stored and the run is stopping"
        )


def handler_context(
    worker: PersistentWorker,
    pool: asyncpg.Pool[Any],
    job: Job,
    claim: Claim,
    client_id: str,
    *,
    lease_lost: Callable[[], bool],
    lose_lease: Callable[[str], None],
) -> PersistentContext:
    """The handler's context: the claimed config and state, and the run's checkpoints."""
    try:
        validate_config(worker.schema, claim.config)
    except InvalidConfig as exc:
        log.error(
            "pqw: %s: stored config does not fit its type (%s); using it anyway",
            worker.name,
            exc,
        )
    ctx = PersistentContext(
        worker.name,
        run=claim.runs,
        job_id=job.id,
        config=claim.config,
        config_version=claim.config_version,
        config_type=worker.config_type,
        restart_on_config_change=worker.restart_on_config_change,
        state=claim.state,
    )
    ctx._checkpoints = Checkpoints(
        pool,
        job,
        name=worker.name,
        run=claim.runs,
        client_id=client_id,
        lease_until=lambda: ctx._lease_until,
        lease_lost=lease_lost,
        lose_lease=lose_lease,
    ).write
    return ctx


def started_line(claim: Claim, client_id: str) -> str:
    """The first line of a run's log."""
    state = "no state" if claim.state is None else f"the state of checkpoint {claim.state_version}"
    return (
        f"run {claim.runs} started on {client_id} with config v{claim.config_version} and {state}"
    )
