"""Turns kind, args and options into validated rows, or a clear error before anything is written.

Everything but the args is validated once per (kind, options) as a RowTemplate,
so a batch of a thousand jobs of one kind costs one validation plus a JSON
encoding per row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from engine.db import json_text
from engine.db.json_text import RawJson
from engine.db.storable import json_problem
from engine.errors import InvalidJobOption, InvalidJobType, PqwError
from engine.jobs.checks import (
    unknown_options,
    validate_kind,
    validate_max_attempts,
    validate_priority,
    validate_queue,
    validate_scheduled_at,
    validate_tags,
)
from engine.jobs.unique import (
    PeriodKey,
    period_key,
    unique_key,
    unique_states_mask,
    validate_unique,
    whole_args_key,
    whole_args_key_tail,
)
from engine.types import InsertOpts, JobSpec, UniqueOpts

DEFAULT_QUEUE = "default"
DEFAULT_PRIORITY = 1
DEFAULT_MAX_ATTEMPTS = 25
# Sizes of a job's JSON (UTF-8, as pqw encodes it). Every reader pays for a big job:
# a producer fetches a batch of them per round trip, the dashboard lists a page of
# them per refresh. So the limit is one for the whole cluster, not a client's
# setting: keep large payloads in a table or an object store and pass a reference.
ARGS_MAX_BYTES = 1024 * 1024
METADATA_MAX_BYTES = 64 * 1024

DEFAULT_OPTS = InsertOpts(
    queue=DEFAULT_QUEUE,
    priority=DEFAULT_PRIORITY,
    max_attempts=DEFAULT_MAX_ATTEMPTS,
    tags=(),
    metadata={},
)


def encode_object(
    name: str, value: object, max_bytes: int = ARGS_MAX_BYTES, *, sort_keys: bool = False
) -> RawJson:
    """JSON text of a dict Postgres can store, or a clear error naming the field."""
    if type(value) is not dict and not isinstance(value, Mapping):
        raise InvalidJobType(f"{name} must be a JSON object (a dict), got {type(value).__name__}")
    try:
        text = (
            json_text.dumps_sorted(value, allow_nan=False) if sort_keys else json_text.dumps(value)
        )
    except (TypeError, ValueError) as exc:
        raise InvalidJobType(f"{name} must be JSON-serializable: {exc}") from exc
    problem = json_problem(text, max_bytes)
    if problem is not None:
        raise InvalidJobOption(f"{name} {problem}")
    return RawJson(text)


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
    # The key's text after the args, when the key is over all the args (unique.py).
    whole_args_tail: str | None
    # The fixed part of this template's rows in the JSON batch of sql.INSERT_JOBS.
    json_prefix: str

    def row(self, args: Any) -> InsertParams:
        unique = self.unique
        if unique is None:
            return InsertParams(self, args, encode_object("args", args, ARGS_MAX_BYTES), None)
        if self.whole_args_tail is not None and type(args) is dict:
            # A key over all the args: one sorted encoding is both the text stored
            # (jsonb keeps no key order) and the args' part of the key's text.
            args_json = encode_object("args", args, ARGS_MAX_BYTES, sort_keys=True)
            return InsertParams(
                self, args, args_json, whole_args_key(args_json, self.whole_args_tail)
            )
        args_json = encode_object("args", args, ARGS_MAX_BYTES)
        if unique.by_period is not None and self.scheduled_at is None:
            # Runs now: the period is the one of the database's now(), not this host's.
            return InsertParams(
                self, args, args_json, None, period_key(self.kind, args, self.queue, unique)
            )
        key = unique_key(self.kind, args, self.queue, self.scheduled_at, unique)
        return InsertParams(self, args, args_json, key)


class InsertParams(NamedTuple):
    """One validated row for pqw_job (a named tuple: one is made per row of a bulk
    insert, in a third of a frozen dataclass's time)."""

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
    """The options a call gives: `opts`, then keyword overrides (InvalidJobType, a
    TypeError, on an unknown one or on opts that are not an InsertOpts)."""
    valid = InsertOpts.__dataclass_fields__
    unknown = set(overrides) - set(valid)
    if unknown:
        raise unknown_options("insert", unknown, valid)
    return InsertOpts().merged_with(_checked_opts(opts)).merged_with(InsertOpts(**overrides))


def _checked_opts(opts: object) -> InsertOpts | None:
    if opts is not None and not isinstance(opts, InsertOpts):
        raise InvalidJobType(
            f"opts must be an InsertOpts (like InsertOpts(queue='mail')), got {type(opts).__name__}"
        )
    return opts


def template_for(kind: str, opts: InsertOpts) -> RowTemplate:
    """Validate a kind and its resolved options (defaults filled in)."""
    kind = validate_kind(kind)
    resolved = DEFAULT_OPTS.merged_with(opts)
    assert resolved.queue is not None and resolved.priority is not None
    assert resolved.max_attempts is not None and resolved.tags is not None
    tags = validate_tags(resolved.tags)
    metadata = resolved.metadata or {}
    metadata_json = encode_object("metadata", metadata, METADATA_MAX_BYTES)
    unique = validate_unique(resolved.unique)
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
        whole_args_tail=whole_args_key_tail(kind, queue, unique) if unique is not None else None,
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
    if isinstance(jobs, str | bytes | Mapping) or not isinstance(jobs, Collection):
        raise InvalidJobType(
            f"jobs must be a list of JobSpecs or (kind, args[, opts]) tuples, "
            f"got {type(jobs).__name__}"
        )
    for index, item in enumerate(jobs):
        try:
            kind, args, opts = _job_of(item)
            key = (kind, id(opts))
            template = templates.get(key)
            if template is None:
                template = template_for(kind, opts_for(kind, opts))
                templates[key] = template
            params.append(template.row(args))
        except PqwError as exc:
            # Which job of the batch, for a batch of thousands.
            raise type(exc)(f"jobs[{index}]: {exc}") from exc
    return params


def _job_of(item: object) -> tuple[str, Any, InsertOpts | None]:
    if isinstance(item, JobSpec):
        kind, args, opts = item.kind, item.args, item.opts
    elif isinstance(item, tuple | list) and len(item) in (2, 3):
        kind, args = item[0], item[1]
        opts = item[2] if len(item) == 3 else None
    else:
        raise InvalidJobType(
            f"each job must be a JobSpec or a (kind, args[, opts]) tuple, got {type(item).__name__}"
        )
    if not isinstance(kind, str):
        raise InvalidJobType(f"kind must be a string, got {type(kind).__name__}")
    return kind, args, _checked_opts(opts)
