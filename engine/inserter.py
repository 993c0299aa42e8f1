"""Writes validated rows to pqw_job: one statement per batch, duplicates reported per row.

Non-unique batches from pqw's own pool go through COPY (ids reserved first, so
every caller still gets its jobs back); unique rows and rows inserted on a
caller's connection go through one INSERT ... SELECT FROM unnest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias, overload

import asyncpg

from engine import sql
from engine.db import Conn
from engine.insert_params import InsertParams
from engine.types import InsertResult, Job, JobState

Executor: TypeAlias = "Conn | asyncpg.Pool[Any]"

# Below this many rows, one INSERT beats reserving ids and a COPY.
COPY_THRESHOLD = 100


async def insert_rows(
    executor: Executor, rows: Sequence[InsertParams], *, own_pool: bool = False
) -> Sequence[InsertResult]:
    """Insert rows; a unique row meeting a live duplicate returns that job as a duplicate."""
    if not rows:
        return []
    if own_pool and len(rows) >= COPY_THRESHOLD and all(r.unique_key is None for r in rows):
        assert isinstance(executor, asyncpg.Pool)
        async with executor.acquire() as conn:
            return await copy_rows(conn, rows)
    return await insert_statement(executor, rows)


async def insert_statement(executor: Executor, rows: Sequence[InsertParams]) -> list[InsertResult]:
    # ON CONFLICT cannot touch one existing row twice in a statement, so rows
    # repeating a unique key of an earlier row in the batch are answered by it.
    first_of_key: dict[bytes, int] = {}
    sent: list[InsertParams] = []
    source: list[int] = []  # for each input row, its index in `sent`
    for row in rows:
        if row.unique_key is not None and row.unique_key in first_of_key:
            source.append(first_of_key[row.unique_key])
            continue
        if row.unique_key is not None:
            first_of_key[row.unique_key] = len(sent)
        source.append(len(sent))
        sent.append(row)
    records = await executor.fetch(
        sql.INSERT_JOBS,
        [r.template.kind for r in sent],
        [str(r.args_json) for r in sent],
        [r.template.queue for r in sent],
        [r.template.priority for r in sent],
        [r.template.max_attempts for r in sent],
        [r.template.scheduled_at for r in sent],
        [r.template.tags_json for r in sent],
        [str(r.template.metadata_json) for r in sent],
        [r.unique_key for r in sent],
        [r.template.unique_states for r in sent],
    )
    if len(records) != len(sent):
        raise RuntimeError(f"insert returned {len(records)} rows for {len(sent)}")
    results = [InsertResult(Job.from_record(rec), bool(rec["duplicate"])) for rec in records]
    out: list[InsertResult] = []
    seen: set[int] = set()
    for index in source:
        result = results[index]
        if index in seen:
            result = InsertResult(result.job, duplicate=True)
        seen.add(index)
        out.append(result)
    return out


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
    return CopiedResults(ids, rows, now)


class CopiedResults(Sequence[InsertResult]):
    """Results of a COPY batch, each made when first read.

    A bulk insert of 100,000 rows would otherwise spend more time building
    result objects than the database spends storing the rows.
    """

    def __init__(self, ids: list[int], rows: Sequence[InsertParams], now: datetime) -> None:
        self._ids = ids
        self._rows = rows
        self._now = now
        self._made: dict[int, InsertResult] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def _get(self, index: int) -> InsertResult:
        if index < 0:
            index += len(self._ids)
        result = self._made.get(index)
        if result is None:
            result = InsertResult(_copied_job(self._ids[index], self._rows[index], self._now))
            self._made[index] = result
        return result

    @overload
    def __getitem__(self, index: int) -> InsertResult: ...

    @overload
    def __getitem__(self, index: slice) -> list[InsertResult]: ...

    def __getitem__(self, index: int | slice) -> InsertResult | list[InsertResult]:
        if isinstance(index, slice):
            return [self._get(i) for i in range(*index.indices(len(self._ids)))]
        if not -len(self._ids) <= index < len(self._ids):
            raise IndexError(index)
        return self._get(index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"CopiedResults({len(self)} jobs, ids {self._ids[0]}..{self._ids[-1]})"


def _copied_job(job_id: int, row: InsertParams, now: datetime) -> Job:
    t = row.template
    at = t.scheduled_at or now
    return Job(
        id=job_id,
        kind=t.kind,
        args=dict(row.args),
        queue=t.queue,
        priority=t.priority,
        state=JobState.SCHEDULED if at > now else JobState.AVAILABLE,
        attempt=0,
        max_attempts=t.max_attempts,
        created_at=now,
        scheduled_at=at,
        metadata=dict(t.metadata),
        tags=list(t.tags),
    )
