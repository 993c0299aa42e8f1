"""Writes validated rows to pqw_job: one statement per batch, duplicates reported per row.

Non-unique batches from pqw's own pool go through COPY (ids reserved first, so
every caller still gets its jobs back); unique rows and rows inserted on a
caller's connection go through one INSERT ... SELECT over a JSON batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias, overload

import asyncpg

from engine import sql
from engine.db.outage import connection_failure, is_connection_error, pooler_misconfigured
from engine.db.pool import Conn, stateless_connection
from engine.jobs.insert_params import InsertParams
from engine.types import InsertResult, Job, JobState

Executor: TypeAlias = "Conn | asyncpg.Pool[Any]"

# Below this many rows, one INSERT beats reserving ids and a COPY.
COPY_THRESHOLD = 100


async def insert_rows(
    executor: Executor,
    rows: Sequence[InsertParams],
    *,
    own_pool: bool = False,
    dsn: str | None = None,
) -> Sequence[InsertResult]:
    """Insert rows; a unique row meeting a live duplicate returns that job as a duplicate.

    With `dsn` (the executor is pqw's own pool on it), an outage raises
    DatabaseUnavailable naming that database; a caller's own connection raises
    what its driver says.
    """
    try:
        return await _insert_rows(executor, rows, own_pool)
    except asyncpg.PostgresError as exc:
        misconfigured = pooler_misconfigured(exc)
        if misconfigured is not None:
            raise misconfigured from exc
        if dsn is not None and is_connection_error(exc):
            raise connection_failure(dsn, exc) from exc
        raise
    except Exception as exc:
        if dsn is not None and is_connection_error(exc):
            raise connection_failure(dsn, exc) from exc
        raise


async def _insert_rows(
    executor: Executor, rows: Sequence[InsertParams], own_pool: bool
) -> Sequence[InsertResult]:
    if not rows:
        return []
    unique = any(r.is_unique for r in rows)
    if not isinstance(executor, asyncpg.Pool):
        return await insert_statement(executor, rows)  # the caller's own connection
    # These statements leave no session state (the COPY's transaction is over when
    # it returns), so the connection goes back without the pool's reset round trip;
    # a unique batch's statements (the insert, then the holders it met) share it.
    async with stateless_connection(executor) as conn:
        if own_pool and len(rows) >= COPY_THRESHOLD and not unique:
            return await copy_rows(conn, rows)
        return await insert_statement(conn, rows)


# A holder can leave its unique states between the insert that met it and the
# read of it (it finished, or was deleted): then the row is tried again. Each
# try either inserts or finds a holder, so only a storm of such changes to one
# key could make this many tries necessary.
MAX_INSERT_TRIES = 20


async def insert_statement(
    executor: Executor, rows: Sequence[InsertParams]
) -> Sequence[InsertResult]:
    """Insert rows with sql.INSERT_JOBS; a row meeting a live holder of its unique key
    (in the database, or earlier in the batch) gets that holder as a duplicate."""
    found: list[tuple[Mapping[str, Any], bool] | None] = [None] * len(rows)
    todo = list(range(len(rows)))
    for _ in range(MAX_INSERT_TRIES):
        batch = "[" + ",".join(rows[i].row_json() for i in todo) + "]"
        records = await executor.fetch(sql.INSERT_JOBS, batch)
        if len(records) != len(todo):
            raise RuntimeError(f"insert returned {len(records)} rows for {len(todo)}")
        met: dict[bytes, list[int]] = {}
        for index, record in zip(todo, records, strict=True):
            if record["id"] is not None:
                found[index] = (record, False)  # id, state and times: see _sent_job
            else:
                met.setdefault(bytes(record["key"]), []).append(index)
        if not met:
            break
        # A new statement, so holders committed meanwhile by others are visible.
        for holder in await executor.fetch(sql.UNIQUE_HOLDERS, list(met)):
            for index in met.pop(bytes(holder["key"]), []):
                found[index] = (holder, True)
        todo = sorted(index for indexes in met.values() for index in indexes)
        if not todo:
            break
    else:
        raise RuntimeError(
            f"{len(todo)} unique row(s) neither inserted nor met a live duplicate "
            f"after {MAX_INSERT_TRIES} tries"
        )

    def make(index: int) -> InsertResult:
        entry = found[index]
        assert entry is not None
        record, duplicate = entry
        if duplicate:
            return InsertResult(record=record, duplicate=True)
        return InsertResult(
            _sent_job(
                rows[index],
                record["id"],
                JobState(record["state"]),
                record["created_at"],
                record["scheduled_at"],
            )
        )

    return LazyResults(len(rows), make)


async def copy_rows(conn: Any, rows: Sequence[InsertParams]) -> Sequence[InsertResult]:
    """COPY non-unique rows with ids reserved up front; Jobs are built from what was sent."""
    templates = {id(r.template): r.template for r in rows}.values()
    # Columns every row leaves at the table's default are not sent at all.
    columns = ["id", "kind", "args", "queue", "priority", "max_attempts"]
    with_schedule = any(t.scheduled_at is not None for t in templates)
    with_extras = any(t.tags or t.metadata for t in templates)
    if with_schedule:
        columns += ["state", "scheduled_at"]
    if with_extras:
        columns += ["tags", "metadata"]
    async with conn.transaction():
        reserved = await conn.fetchrow(sql.RESERVE_JOB_IDS, len(rows))
        ids: list[int] = reserved["ids"]
        now: datetime = reserved["now"]
        records: list[tuple[Any, ...]] = []
        for job_id, row in zip(ids, rows, strict=True):
            t = row.template
            record: tuple[Any, ...] = (
                job_id,
                t.kind,
                row.args_json,
                t.queue,
                t.priority,
                t.max_attempts,
            )
            if with_schedule:
                at = t.scheduled_at or now
                record += ("scheduled" if at > now else "available", at)
            if with_extras:
                record += (t.tags, t.metadata_json)
            records.append(record)
        await conn.copy_records_to_table("pqw_job", records=records, columns=columns)

    def make(index: int) -> InsertResult:
        row = rows[index]
        at = row.template.scheduled_at or now
        state = JobState.SCHEDULED if at > now else JobState.AVAILABLE
        return InsertResult(_sent_job(row, ids[index], state, now, at))

    return LazyResults(len(rows), make)


class LazyResults(Sequence[InsertResult]):
    """A batch's results, each made when first read.

    A bulk insert of 100,000 rows would otherwise spend more time building (and
    decoding JSON for) result objects than the database spends storing the rows.
    """

    def __init__(self, count: int, make: Callable[[int], InsertResult]) -> None:
        self._count = count
        self._make = make
        self._made: dict[int, InsertResult] = {}

    def __len__(self) -> int:
        return self._count

    def _get(self, index: int) -> InsertResult:
        result = self._made.get(index)
        if result is None:
            result = self._make(index)
            self._made[index] = result
        return result

    @overload
    def __getitem__(self, index: int) -> InsertResult: ...

    @overload
    def __getitem__(self, index: slice) -> list[InsertResult]: ...

    def __getitem__(self, index: int | slice) -> InsertResult | list[InsertResult]:
        if isinstance(index, slice):
            return [self._get(i) for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return self._get(index % self._count)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"<{self._count} insert results>"


def _sent_job(
    row: InsertParams, job_id: int, state: JobState, created_at: datetime, scheduled_at: datetime
) -> Job:
    """The job just inserted from `row`, built from what was sent and what the database
    chose. Args and metadata are decoded from the JSON text sent, so they read as the
    stored job does (a tuple as a list, an int key as a string)."""
    t = row.template
    return Job(
        id=job_id,
        kind=t.kind,
        args=json.loads(row.args_json),
        queue=t.queue,
        priority=t.priority,
        state=state,
        attempt=0,
        max_attempts=t.max_attempts,
        created_at=created_at,
        scheduled_at=scheduled_at,
        metadata=json.loads(t.metadata_json),
        tags=list(t.tags),
    )
