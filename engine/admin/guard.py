"""Admin's door: arguments checked before any query, outages told as DatabaseUnavailable.

Every public coroutine method of a guarded class gets both, by one class
decorator, so a method added later is covered too:

- Arguments are checked by their name (`job_id`, `name`, `state`, `limit`...),
  the same way in every method: a value that could never match (an id beyond
  bigint, a name with a NUL byte) is a clear error before anything is sent,
  never the driver's OverflowError or the server's DataError.
- After the first connect, a pool that meets a restarting or vanished server
  raises whatever the moment gives: FileNotFoundError (the socket is gone),
  CannotConnectNowError (the server is starting), asyncpg's "cannot switch to
  state 12" (a session cut mid-exchange). The CLI, the dashboard and scripts
  all get one answer instead: which database is away, in one line, no password.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from engine.db.outage import connection_failure, is_connection_error
from engine.db.storable import text_problem
from engine.errors import DatabaseUnavailable, InvalidJobOption, InvalidJobType, NotFound
from engine.jobs.checks import validate_flag, validate_seconds
from engine.types import JobState

C = TypeVar("C", bound=type)
Method = Callable[..., Coroutine[Any, Any, Any]]

BIGINT = range(-(2**63), 2**63)
# A page of jobs is read into memory at once: a screenful, or a script's batch.
LIMIT_MAX = 10_000


class HasDsn(Protocol):
    dsn: str


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJobType(f"{what} must be an int, got {type(value).__name__}")
    return value


def job_id(value: object) -> int:
    """A job id; NotFound for one no job can have (beyond bigint)."""
    number = _int(value, "job_id")
    if number not in BIGINT:
        raise NotFound(f"no job with id {number}")
    return number


def before_id(value: object) -> int:
    """A page boundary: any int will do (pages beyond bigint are the ends)."""
    number = _int(value, "before_id")
    return min(max(number, BIGINT.start), BIGINT.stop - 1)


def limit(value: object) -> int:
    number = _int(value, "limit")
    if not 0 <= number <= LIMIT_MAX:
        raise InvalidJobOption(f"limit must be between 0 and {LIMIT_MAX}, got {number}")
    return number


def text(value: object, what: str) -> str:
    """A name or filter sent as text: a string Postgres can hold."""
    if not isinstance(value, str):
        raise InvalidJobType(f"{what} must be a string, got {type(value).__name__}")
    problem = text_problem(value)
    if problem is not None:
        raise InvalidJobOption(f"{what} {value[:100]!r} {problem}")
    return value


def state(value: object) -> JobState:
    if isinstance(value, JobState):
        return value
    if isinstance(value, str) and value in JobState._value2member_map_:
        return JobState(value)
    raise InvalidJobOption(
        f"state must be one of {', '.join(s.value for s in JobState)}, got {value!r}"
    )


def count(what: str, top: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        number = _int(value, what)
        if not 1 <= number <= top:
            raise InvalidJobOption(f"{what} must be between 1 and {top:,}, got {number}")
        return number

    return check


def _texts(*names: str) -> dict[str, Callable[[object], str]]:
    return {name: functools.partial(text, what=name) for name in names}


# A year: any longer is no job's running time, and a huge float overflows Postgres's interval.
MAX_RUNNING_SECONDS = 366 * 86_400


def running_for(value: object) -> float:
    """Seconds a job has run at least, between zero and a year."""
    seconds = validate_seconds(value, "min_running", zero=True)
    if seconds > MAX_RUNNING_SECONDS:
        raise InvalidJobOption(f"min_running must be at most a year of seconds, got {value!r}")
    return seconds


# Each argument name Admin uses, and how its values are checked (and normalised);
# None passes where None is the parameter's default.
CHECKS: dict[str, Callable[[Any], Any]] = {
    "job_id": job_id,
    "before_id": before_id,
    "limit": limit,
    "state": state,
    "seconds": count("seconds", 86_400),
    "throughput_seconds": count("throughput_seconds", 86_400),
    "cap": count("cap", 10**9),
    "min_running": running_for,
    "include_stopped": lambda v: validate_flag(v, "include_stopped"),
    "enabled": lambda v: validate_flag(v, "enabled"),
    **_texts("name", "schedule_id", "queue", "kind"),
}


def _guarded(method: Method) -> Method:
    signature = inspect.signature(method)
    checked = [name for name in signature.parameters if name in CHECKS]

    @functools.wraps(method)
    async def call(self: HasDsn, *args: Any, **kwargs: Any) -> Any:
        if checked:
            bound = signature.bind(self, *args, **kwargs)
            for name in checked:
                if name not in bound.arguments:
                    continue
                value = bound.arguments[name]
                if value is None and signature.parameters[name].default is None:
                    continue
                bound.arguments[name] = CHECKS[name](value)
            args, kwargs = bound.args[1:], bound.kwargs
        try:
            return await method(self, *args, **kwargs)
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            if is_connection_error(exc):
                raise connection_failure(self.dsn, exc) from exc
            raise

    return call


def guarded(cls: C) -> C:
    """The class, each of its public coroutine methods checking its arguments first and
    raising DatabaseUnavailable (named by `self.dsn`) when the database went away."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, _guarded(member))
    return cls
