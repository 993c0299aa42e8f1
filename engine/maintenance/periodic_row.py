"""A periodic schedule as its row stores it: the whole definition, so any leader can keep it.

Code defines a schedule (define_periodic); every client writes its definitions
at start, and the leader evaluates each enabled row, whether or not it defines
that schedule itself: in a rolling deploy, or a cluster where one service
defines a schedule and another holds the lease, nothing stops silently.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from engine.errors import InvalidJobOption, InvalidJobType, InvalidSchedule
from engine.jobs.checks import validate_flag, validate_kind, validate_name
from engine.jobs.insert_params import DEFAULT_OPTS, encode_object, template_for
from engine.schedules import Cron, Every, PeriodicJob, Schedule, schedule_from_spec
from engine.types import InsertOpts, JobState, UniqueOpts


def define_periodic(
    kind: str,
    schedule: Schedule,
    *,
    args: Mapping[str, Any] | None,
    id: str | None,
    run_on_start: bool,
    opts: InsertOpts,
    defined: Collection[str],
) -> PeriodicJob:
    """A schedule's definition, or a clear error now rather than at its first run.

    `opts` are the schedule's own insert options; the kind's defaults are merged
    in when the client starts (a kind may be registered after its schedule).
    """
    if not isinstance(schedule, Every | Cron):
        # Any leader must be able to evaluate it from its row alone.
        raise InvalidSchedule("schedule must be every(...) or cron(...)")
    kind = validate_kind(kind)
    try:
        schedule_id = validate_name(kind if id is None else id, "periodic job id")
    except (InvalidJobOption, InvalidJobType) as exc:
        raise InvalidSchedule(str(exc)) from exc
    encode_object("args", {} if args is None else args)
    job = PeriodicJob(
        id=schedule_id,
        kind=kind,
        schedule=schedule,
        args=dict(args or {}),
        opts=opts,
        run_on_start=validate_flag(run_on_start, "run_on_start"),
    )
    if job.id in defined:
        raise InvalidSchedule(f"periodic job id {job.id!r} is defined twice")
    template_for(job.kind, job.opts).row(job.args)
    return job


def with_kind_defaults(job: PeriodicJob, kind_opts: InsertOpts | None) -> PeriodicJob:
    """The schedule with its kind's defaults (from `@client.job`) under its own options."""
    if kind_opts is None:
        return job
    return replace(job, opts=kind_opts.merged_with(job.opts))


def encode_opts(opts: InsertOpts) -> dict[str, Any]:
    """The insert options a row stores: resolved (defaults filled in), unique options included."""
    resolved = DEFAULT_OPTS.merged_with(opts)
    unique = resolved.unique
    return {
        "queue": resolved.queue,
        "priority": resolved.priority,
        "max_attempts": resolved.max_attempts,
        "tags": list(resolved.tags or ()),
        "metadata": dict(resolved.metadata or {}),
        "unique": None
        if unique is None
        else {
            "by_args": unique.by_args if isinstance(unique.by_args, bool) else list(unique.by_args),
            "by_period": unique.by_period.total_seconds() if unique.by_period else None,
            "by_queue": unique.by_queue,
            "by_state": None if unique.by_state is None else [str(s) for s in unique.by_state],
        },
    }


def decode_opts(stored: Mapping[str, Any]) -> InsertOpts:
    """Insert options from a row (rows of older versions lack metadata and unique)."""
    unique = stored.get("unique")
    return InsertOpts(
        queue=stored.get("queue"),
        priority=stored.get("priority"),
        max_attempts=stored.get("max_attempts"),
        tags=stored.get("tags"),
        metadata=stored.get("metadata"),
        unique=None if unique is None else _decode_unique(unique),
    )


def _decode_unique(stored: Any) -> UniqueOpts:
    if not isinstance(stored, dict):
        raise InvalidJobType(f"stored unique options must be an object, got {stored!r}")
    period = stored.get("by_period")
    states = stored.get("by_state")
    try:
        return UniqueOpts(
            by_args=stored.get("by_args", False),
            by_period=None if period is None else timedelta(seconds=float(period)),
            by_queue=bool(stored.get("by_queue", False)),
            by_state=None if states is None else tuple(JobState(s) for s in states),
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidJobOption(f"stored unique options {stored!r}: {exc}") from exc


@dataclass(frozen=True)
class StoredSchedule:
    """A schedule as any leader reads it from its row."""

    id: str
    kind: str
    schedule: Every | Cron
    args: dict[str, Any]
    opts: InsertOpts

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredSchedule:
        """The row's definition, checked as code's would be (InvalidSchedule,
        InvalidJobOption or InvalidJobType when it cannot be kept)."""
        if row["spec"] is None:
            raise InvalidSchedule(
                f"schedule {row['schedule']!r} has no stored form; a client that defines it "
                "writes one when it starts"
            )
        args, opts = row["args"], row["opts"]
        if not isinstance(args, dict) or not isinstance(opts, dict):
            raise InvalidJobType("stored args and options must be JSON objects")
        stored = cls(
            id=row["id"],
            kind=validate_kind(row["kind"]),
            schedule=schedule_from_spec(row["spec"]),
            args=args,
            opts=decode_opts(opts),
        )
        template_for(stored.kind, stored.opts)
        return stored
