"""Unique jobs: the key that makes two inserts duplicates, and the states in which a job blocks one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.db.json_text import dumps_sorted
from engine.errors import InvalidJobOption, InvalidJobType
from engine.types import JobState, UniqueOpts

# Bit i (from the left) stands for the i-th state of the enum; the SQL function
# pqw_job_state_in_bitmask reads the same positions.
_BIT_ORDER = tuple(JobState)

DEFAULT_UNIQUE_STATES = frozenset(
    {
        JobState.AVAILABLE,
        JobState.COMPLETED,
        JobState.PENDING,
        JobState.RUNNING,
        JobState.RETRYABLE,
        JobState.SCHEDULED,
    }
)
# A job must keep blocking duplicates while it is waiting or running; otherwise
# uniqueness could not hold across the moves between these states.
REQUIRED_UNIQUE_STATES = frozenset(
    {JobState.AVAILABLE, JobState.PENDING, JobState.RUNNING, JobState.SCHEDULED}
)
ALL_STATES = frozenset(JobState)
NON_FINAL_STATES = ALL_STATES - {JobState.COMPLETED, JobState.CANCELLED, JobState.DISCARDED}


def validate_states(states: Iterable[JobState | str]) -> frozenset[JobState]:
    try:
        chosen = frozenset(JobState(s) for s in states)
    except ValueError as exc:
        raise InvalidJobOption(f"unique by_state: {exc}") from exc
    missing = REQUIRED_UNIQUE_STATES - chosen
    if missing:
        names = ", ".join(sorted(s.value for s in missing))
        raise InvalidJobOption(
            f"unique by_state must include available, pending, running and scheduled; "
            f"missing: {names}. A job blocks its duplicates while it waits or runs; to "
            f"let one be inserted again once the last has finished, leave out the final "
            f"states instead: by_state=[available, pending, running, retryable, scheduled]"
        )
    return chosen


def validate_unique(unique: object) -> UniqueOpts | None:
    """Unique options whose every field has the type it needs, or a clear error."""
    if unique is None:
        return None
    if not isinstance(unique, UniqueOpts):
        raise InvalidJobType(
            f"unique must be a UniqueOpts (like UniqueOpts(by_args=True)), "
            f"got {type(unique).__name__}"
        )
    by_args = unique.by_args
    if not isinstance(by_args, bool) and (
        isinstance(by_args, str | bytes)
        or not isinstance(by_args, Sequence | frozenset | set)
        or not all(isinstance(k, str) for k in by_args)
    ):
        raise InvalidJobType("unique by_args must be True, False or a list of arg names")
    if unique.by_period is not None and not isinstance(unique.by_period, timedelta):
        raise InvalidJobType(
            f"unique by_period must be a timedelta, got {type(unique.by_period).__name__}"
        )
    if unique.by_period is not None and unique.by_period < timedelta(seconds=1):
        raise InvalidJobOption(
            f"unique by_period must be at least one second, got {unique.by_period}"
        )
    if not isinstance(unique.by_queue, bool):
        raise InvalidJobType("unique by_queue must be True or False")
    states = unique.by_state
    if states is not None and (
        isinstance(states, str | bytes) or not isinstance(states, Sequence | frozenset | set)
    ):
        raise InvalidJobType("unique by_state must be a list of JobStates")
    return unique


def states_to_mask(states: Iterable[JobState]) -> str:
    chosen = set(states)
    return "".join("1" if s in chosen else "0" for s in _BIT_ORDER)


# Unique over every live state: what a persistent worker's runs use, so at most one is live.
NON_FINAL_MASK = "".join("1" if s in NON_FINAL_STATES else "0" for s in _BIT_ORDER)


def mask_to_states(mask: str) -> frozenset[JobState]:
    return frozenset(s for s, bit in zip(_BIT_ORDER, mask, strict=True) if bit == "1")


def unique_states_mask(by_state: Sequence[JobState | str] | None) -> str:
    states = DEFAULT_UNIQUE_STATES if by_state is None else validate_states(by_state)
    return states_to_mask(states)


def canonical_json(value: Any) -> str:
    """JSON in which key order never matters (one reused C encoder: a unique batch
    hashes a key per row, and json.dumps builds a new encoder on every call)."""
    return dumps_sorted(value)


def period_bucket(at: datetime, period: timedelta) -> int:
    """Start of the period containing `at`, as whole seconds since the Unix epoch."""
    seconds = int(period.total_seconds())
    if seconds < 1:
        raise InvalidJobOption(f"unique by_period must be at least one second, got {period}")
    epoch = int(at.timestamp() // 1)
    return epoch - epoch % seconds


@dataclass(frozen=True, slots=True)
class PeriodKey:
    """A by_period unique key whose period the database fills in from its own clock.

    The key is sha256(prefix + bucket + suffix), where bucket is the start of the
    period (whole seconds since the epoch) containing the database's now(): hosts
    whose clocks disagree still compute the same key for the same moment.
    """

    prefix: str
    suffix: str
    seconds: int

    def key_at(self, at: datetime) -> bytes:
        """The key this row gets when its period is the one containing `at`."""
        bucket = period_bucket(at, timedelta(seconds=self.seconds))
        return hashlib.sha256(f"{self.prefix}{bucket}{self.suffix}".encode()).digest()


def period_key(kind: str, args: Mapping[str, Any], queue: str, opts: UniqueOpts) -> PeriodKey:
    """The parts of a by_period key around its bucket.

    prefix + str(bucket) + suffix is exactly the canonical JSON of the key's parts
    (sorted keys: args, kind, period, queue), so a key whose bucket comes from the
    database equals one computed here from the same time.
    """
    assert opts.by_period is not None
    seconds = int(opts.by_period.total_seconds())
    if seconds < 1:
        raise InvalidJobOption(
            f"unique by_period must be at least one second, got {opts.by_period}"
        )
    head = ""
    chosen = _chosen_args(args, opts)
    if chosen is not None:
        head = f'"args":{canonical_json(chosen)},'
    prefix = f'{{{head}"kind":{canonical_json(kind)},"period":'
    suffix = f',"queue":{canonical_json(queue)}}}' if opts.by_queue else "}"
    return PeriodKey(prefix, suffix, seconds)


def _chosen_args(args: Mapping[str, Any], opts: UniqueOpts) -> dict[str, Any] | None:
    if opts.by_args is True:
        return dict(args)
    if opts.by_args:
        if isinstance(opts.by_args, str):
            raise InvalidJobType("unique by_args must be True or a list of keys, not a string")
        return {k: args[k] for k in sorted(set(opts.by_args)) if k in args}
    return None


def unique_key(
    kind: str,
    args: Mapping[str, Any],
    queue: str,
    scheduled_at: datetime | None,
    opts: UniqueOpts,
    *,
    now: datetime | None = None,
) -> bytes:
    """sha256 over the kind and the parts the options choose.

    A by_period key needs a time: `scheduled_at`, else `now`, else this host's
    clock. Inserts of unscheduled jobs do not come here for it: the database
    fills their period in from its own clock (PeriodKey).
    """
    if opts.by_period is not None:
        at = scheduled_at or now or datetime.now(UTC)
        return period_key(kind, args, queue, opts).key_at(at)
    parts: dict[str, Any] = {"kind": kind}
    chosen = _chosen_args(args, opts)
    if chosen is not None:
        parts["args"] = chosen
    if opts.by_queue:
        parts["queue"] = queue
    return hashlib.sha256(canonical_json(parts).encode()).digest()


def whole_args_key_tail(kind: str, queue: str, opts: UniqueOpts) -> str | None:
    """What follows the args in the canonical text of a key over a job's whole args
    (sorted keys: args, kind, queue), or None when the options make another key."""
    if opts.by_args is not True or opts.by_period is not None:
        return None
    queue_part = f',"queue":{canonical_json(queue)}' if opts.by_queue else ""
    return f',"kind":{canonical_json(kind)}{queue_part}}}'


def whole_args_key(sorted_args_json: str, tail: str) -> bytes:
    """unique_key() for a key over the whole args, from the args' canonical JSON and the
    tail of whole_args_key_tail(): the same text, without encoding the args again."""
    return hashlib.sha256(f'{{"args":{sorted_args_json}{tail}'.encode()).digest()


def explicit_key(namespace: str, *values: str) -> bytes:
    """A unique key for pqw's own jobs (periodic runs)."""
    return hashlib.sha256(canonical_json([namespace, *values]).encode()).digest()


# pqw's own job kinds start with this (validate_kind refuses them from users): a
# user's job of such a kind would be taken for one of pqw's.
RESERVED_KIND_PREFIX = "pqw."
PERSISTENT_KIND_PREFIX = RESERVED_KIND_PREFIX + "persistent:"


def persistent_kind(name: str) -> str:
    return PERSISTENT_KIND_PREFIX + name
