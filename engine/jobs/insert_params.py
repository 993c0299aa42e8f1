"""Turns kind, args and options into validated rows, or a clear error before anything is written.

Everything but the args is validated once per (kind, options) as a RowTemplate,
so a batch of a thousand jobs of one kind costs one validation plus a JSON
encoding per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.db import json_text
from engine.db.json_text import RawJson
from engine.errors import InvalidJobOption, InvalidJobType
from engine.jobs.unique import (
    PERSISTENT_KIND_PREFIX,
    RESERVED_KIND_PREFIX,
    PeriodKey,
    period_key,
    unique_key,
    unique_states_mask,
)
from engine.types import InsertOpts, JobSpec, UniqueOpts

DEFAULT_QUEUE = "default"
DEFAULT_PRIORITY = 1
DEFAULT_MAX_ATTEMPTS = 25
MAX_ATTEMPTS_LIMIT = 32767  # pqw_job.max_attempts is a smallint
PRIORITY_RANGE = range(0, 10)
NAME_MAX = 128
TAG_MAX = 255
QUEUE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

DEFAULT_OPTS = InsertOpts(
    queue=DEFAULT_QUEUE,
    priority=DEFAULT_PRIORITY,
    max_attempts=DEFAULT_MAX_ATTEMPTS,
    tags=(),
    metadata={},
)


def validate_kind(kind: object) -> str:
    """A kind a user may insert, register or schedule: a short string outside pqw's own."""
    if not isinstance(kind, str):
        raise InvalidJobType(f"kind must be a string, got {type(kind).__name__}")
    if not 1 <= len(kind) <= NAME_MAX:
        raise InvalidJobOption(
            f"kind must be 1 to {NAME_MAX} characters, got {len(kind)}: {kind!r}"
        )
    if kind.startswith(PERSISTENT_KIND_PREFIX):
        name = kind[len(PERSISTENT_KIND_PREFIX) :]
        raise InvalidJobOption(
            f"job kind {kind!r} is reserved: the runs of a persistent worker are inserted "
            f"by pqw itself, one live run at a time. Define the loop with "
            f"@client.persistent({name!r}); start, stop or restart it with "
            f"Admin.start_worker/stop_worker/restart_worker or `pqw persistent start {name}`"
        )
    if kind.startswith(RESERVED_KIND_PREFIX):
        raise InvalidJobOption(
            f"job kind {kind!r} is reserved: kinds starting with {RESERVED_KIND_PREFIX!r} "
            f"are pqw's own; name yours without that prefix"
        )
    return kind


def validate_queue(queue: object) -> str:
    if not isinstance(queue, str):
        raise InvalidJobType(f"queue must be a string, got {type(queue).__name__}")
    if not QUEUE_PATTERN.match(queue):
        raise InvalidJobOption(
            f"queue must be 1 to {NAME_MAX} characters from [A-Za-z0-9_.:-], got {queue!r}"
        )
    return queue


def validate_concurrency(queue: str, concurrency: object) -> int:
    """How many jobs of `queue` a client runs at once: a positive int."""
    validate_queue(queue)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidJobOption(
            f"queue {queue!r}: concurrency must be a positive int, got {concurrency!r}"
        )
    return concurrency


def validate_max_attempts(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJobType(f"max_attempts must be an int, got {type(value).__name__}")
    if not 1 <= value <= MAX_ATTEMPTS_LIMIT:
        hint = (
            "; to keep a loop alive forever, define a persistent worker "
            "(@client.persistent): it restarts with backoff and never spends attempts"
            if value > MAX_ATTEMPTS_LIMIT
            else ""
        )
        raise InvalidJobOption(
            f"max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT} "
            f"(the database column is a smallint), got {value}{hint}"
        )
    return value


def validate_priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJobType(f"priority must be an int, got {type(value).__name__}")
    if value not in PRIORITY_RANGE:
        raise InvalidJobOption(f"priority must be between 0 and 9 (0 runs first), got {value}")
    return value


def encode_object(name: str, value: object) -> RawJson:
    """JSON text of a dict, or a clear error naming the field."""
    if type(value) is not dict and not isinstance(value, Mapping):
        raise InvalidJobType(f"{name} must be a JSON object (a dict), got {type(value).__name__}")
    try:
        return RawJson(json_text.dumps(value))
    except (TypeError, ValueError) as exc:
        raise InvalidJobType(f"{name} must be JSON-serializable: {exc}") from exc


def validate_scheduled_at(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidJobType(f"scheduled_at must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidJobType("scheduled_at must be timezone-aware (got a naive datetime)")
    return value


def validate_tags(tags: object) -> tuple[str, ...]:
    if isinstance(tags, str) or not isinstance(tags, list | tuple):
        raise InvalidJobType(f"tags must be a list of strings, got {type(tags).__name__}")
    for tag in tags:
        if not isinstance(tag, str) or not 1 <= len(tag) <= TAG_MAX:
            raise InvalidJobOption(
                f"each tag must be a string of 1 to {TAG_MAX} characters: {tag!r}"
            )
    return tuple(tags)


@dataclass(frozen=True)
class RowTemplate:
    """Everything about an insert except its args, validated."""

    kind: str
    queue: str
    priority: int
    max_attempts: int
    scheduled_at: datetime | None
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    metadata_json: RawJson
    unique: UniqueOpts | None
    unique_states: str | None  # bit(8) as text, e.g. '11110101'
    # The fixed part of this template's rows in the JSON batch of sql.INSERT_JOBS.
    json_prefix: str

    def row(self, args: Any) -> InsertParams:
        args_json = encode_object("args", args)
        unique = self.unique
        if unique is None:
            return InsertParams(self, args, args_json, None)
        if unique.by_period is not None and self.scheduled_at is None:
            # Runs now: the period is the one of the database's now(), not this host's.
            return InsertParams(
                self, args, args_json, None, period_key(self.kind, args, self.queue, unique)
            )
        key = unique_key(self.kind, args, self.queue, self.scheduled_at, unique)
        return InsertParams(self, args, args_json, key)


@dataclass(frozen=True, slots=True)
class InsertParams:
    """One validated row for pqw_job."""

    template: RowTemplate
    args: Mapping[str, Any]
    args_json: RawJson
    unique_key: bytes | None
    # A by_period key whose period the database fills in (unique_key is None then).
    period_key: PeriodKey | None = None

    @property
    def is_unique(self) -> bool:
        return self.unique_key is not None or self.period_key is not None

    def row_json(self) -> str:
        """This row in the JSON batch of sql.INSERT_JOBS (args spliced in as encoded)."""
        if self.unique_key is not None:
            key = f'"{self.unique_key.hex()}"'
        elif self.period_key is not None:
            p = self.period_key
            key = f"null,{json_text.dumps(p.prefix)},{json_text.dumps(p.suffix)},{p.seconds}"
        else:
            key = "null"
        return f"{self.template.json_prefix},{self.args_json},{key}]"


def explicit_opts(opts: InsertOpts | None, overrides: dict[str, Any]) -> InsertOpts:
    """The options a call gives: `opts`, then keyword overrides (TypeError on an unknown one)."""
    unknown = set(overrides) - set(InsertOpts.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown insert option(s): {', '.join(sorted(unknown))}")
    return InsertOpts().merged_with(opts).merged_with(InsertOpts(**overrides))


def template_for(kind: str, opts: InsertOpts) -> RowTemplate:
    """Validate a kind and its resolved options (defaults filled in)."""
    kind = validate_kind(kind)
    resolved = DEFAULT_OPTS.merged_with(opts)
    assert resolved.queue is not None and resolved.priority is not None
    assert resolved.max_attempts is not None and resolved.tags is not None
    tags = validate_tags(resolved.tags)
    metadata = resolved.metadata or {}
    metadata_json = encode_object("metadata", metadata)
    unique = resolved.unique
    queue = validate_queue(resolved.queue)
    priority = validate_priority(resolved.priority)
    max_attempts = validate_max_attempts(resolved.max_attempts)
    scheduled_at = validate_scheduled_at(resolved.scheduled_at)
    states = unique_states_mask(unique.by_state) if unique is not None else None
    fixed = [
        kind,
        queue,
        priority,
        max_attempts,
        scheduled_at.isoformat() if scheduled_at else None,
        list(tags),
    ]
    # [kind, queue, priority, max_attempts, scheduled_at, tags, metadata, states, ...
    json_prefix = f"{json_text.dumps(fixed)[:-1]},{metadata_json},{json_text.dumps(states)}"
    return RowTemplate(
        kind=kind,
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
        scheduled_at=scheduled_at,
        tags=tags,
        metadata=dict(metadata),
        metadata_json=metadata_json,
        unique=unique,
        unique_states=states,
        json_prefix=json_prefix,
    )


def build_params(kind: str, args: Any, opts: InsertOpts) -> InsertParams:
    """Validate everything about one insert; raises before anything is written."""
    return template_for(kind, opts).row(args)


def batch_params(
    jobs: Sequence[JobSpec | tuple[Any, ...]],
    opts_for: Callable[[str, InsertOpts | None], InsertOpts],
) -> list[InsertParams]:
    """Validate a batch (JobSpecs or (kind, args[, opts]) tuples), one template per
    (kind, options); raises before anything is written."""
    templates: dict[tuple[str, int], RowTemplate] = {}
    params = []
    for item in jobs:
        if isinstance(item, JobSpec):
            kind, args, opts = item.kind, item.args, item.opts
        else:
            kind, args, *rest = item
            opts = rest[0] if rest else None
        key = (kind, id(opts))
        template = templates.get(key)
        if template is None:
            template = template_for(kind, opts_for(kind, opts))
            templates[key] = template
        params.append(template.row(args))
    return params
