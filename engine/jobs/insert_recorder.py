"""Inserts seen by a test helper: while one is set (a contextvar, so only the handler's own
task and the threads and tasks it starts see it), `Client.insert`, `insert_many` and
`enqueue` tell it what they insert. A recorder that `replaces` the writes gets the
validated rows instead of the database and answers with the jobs they would be
(engine.testing.run_job: no database); one that does not is told of what was written
(engine.testing.drain_queue)."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from engine.jobs.insert_params import InsertParams
from engine.types import InsertResult


class InsertRecorder(Protocol):
    replaces: bool

    def fake(self, rows: Sequence[InsertParams]) -> Sequence[InsertResult]:
        """The results of inserting `rows` without a database (when `replaces`)."""
        ...

    def written(self, results: Sequence[InsertResult]) -> None:
        """What an insert wrote (when not `replaces`)."""
        ...


current_recorder: contextvars.ContextVar[InsertRecorder | None] = contextvars.ContextVar(
    "pqw_insert_recorder", default=None
)


async def recorded(
    rows: Sequence[InsertParams],
    write: Callable[[Sequence[InsertParams]], Awaitable[Sequence[InsertResult]]],
) -> Sequence[InsertResult]:
    """`write(rows)`, unless a recorder replaces it; a recorder that does not is told."""
    recorder = current_recorder.get()
    if recorder is None:
        return await write(rows)
    if recorder.replaces:
        return recorder.fake(rows)
    results = await write(rows)
    recorder.written(results)
    return results
