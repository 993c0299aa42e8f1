"""How a persistent worker is defined in code: its options, checked at definition time."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from engine.errors import DuplicateKind, InvalidConfig, InvalidJobOption, InvalidJobType
from engine.jobs.checks import (
    unknown_options,
    validate_flag,
    validate_name,
    validate_queue,
    validate_seconds,
)
from engine.jobs.unique import persistent_kind
from engine.persistent.config_schema import config_schema, validate_config

if TYPE_CHECKING:
    from engine.persistent.context import PersistentContext

PersistentHandler = Callable[["PersistentContext"], Coroutine[Any, Any, None]]

# Worker names: the run's kind (pqw.persistent:<name>) must stay within a kind's 128.
NAME_MAX = 100


class PersistentOptions(TypedDict, total=False):
    """How a persistent worker is defined (all optional; defaults in brackets).

    config: the default config for a new worker [{}]; the database row wins once it exists.
    config_type: a dataclass or TypedDict that types and validates the config [None].
    heartbeat_interval: seconds between lease heartbeats [1.0].
    heartbeat_timeout: seconds without one before the run is taken back [5.0].
    queue: the queue its runs go through, not one of the client's job queues ["persistent"].
    restart_on_config_change: end the run and start anew when the config changes [True].
    stop_grace: seconds a stopping handler gets before it is cancelled [5.0].
    enabled: whether a new worker starts enabled [True].
    """

    config: Any
    config_type: Any
    heartbeat_interval: float
    heartbeat_timeout: float
    queue: str
    restart_on_config_change: bool
    stop_grace: float
    enabled: bool


@dataclass(frozen=True)
class PersistentWorker:
    """A persistent worker as defined in code: its defaults."""

    name: str
    fn: PersistentHandler
    config: dict[str, Any]
    config_type: Any
    heartbeat_interval: float
    heartbeat_timeout: float
    queue: str
    restart_on_config_change: bool
    stop_grace: float
    enabled: bool

    @property
    def kind(self) -> str:
        return persistent_kind(self.name)

    @property
    def schema(self) -> dict[str, Any] | None:
        return config_schema(self.config_type) if self.config_type is not None else None


def define_worker(
    name: str,
    fn: PersistentHandler,
    options: PersistentOptions,
    *,
    defined: Collection[str],
    job_queues: Collection[str],
) -> PersistentWorker:
    """A worker from its options, or a clear error; `defined` are the names already taken
    on this client and `job_queues` its job queues (a worker's queue must be its own)."""
    unknown = set(options) - set(PersistentOptions.__annotations__)
    if unknown:
        raise unknown_options(
            f"persistent worker {name!r}", unknown, PersistentOptions.__annotations__
        )
    validate_name(name, "persistent worker name", NAME_MAX)
    config: Any = options.get("config")
    config_type: Any = options.get("config_type")
    what = f"persistent worker {name!r}"
    heartbeat_interval = validate_seconds(
        options.get("heartbeat_interval", 1.0), f"{what}: heartbeat_interval"
    )
    heartbeat_timeout = validate_seconds(
        options.get("heartbeat_timeout", 5.0), f"{what}: heartbeat_timeout"
    )
    queue = options.get("queue", "persistent")
    stop_grace = validate_seconds(options.get("stop_grace", 5.0), f"{what}: stop_grace", zero=True)
    if name in defined:
        raise DuplicateKind(f"persistent worker {name!r} is already defined on this client")
    if not (
        inspect.iscoroutinefunction(fn)
        or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004
    ):
        raise TypeError(f"persistent worker {name!r}: the handler must be an async function")
    validate_queue(queue)
    if queue in job_queues:
        raise InvalidJobOption(
            f"queue {queue!r} is a job queue of this client; persistent workers need their own"
        )
    if heartbeat_timeout <= heartbeat_interval:
        raise InvalidJobOption(
            f"persistent worker {name!r}: need 0 < heartbeat_interval < heartbeat_timeout, "
            f"got {heartbeat_interval} and {heartbeat_timeout}"
        )
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if config is not None and not isinstance(config, Mapping):
        raise InvalidConfig(
            f"{what}: config must be a dict (or a dataclass instance), got {type(config).__name__}"
        )
    if config_type is not None:
        try:
            config_schema(config_type)  # unsupported field types fail here
        except TypeError as exc:
            raise InvalidJobType(f"{what}: {exc}") from exc
    worker = PersistentWorker(
        name=name,
        fn=fn,
        config=dict(config or {}),
        config_type=config_type,
        heartbeat_interval=float(heartbeat_interval),
        heartbeat_timeout=float(heartbeat_timeout),
        queue=queue,
        restart_on_config_change=validate_flag(
            options.get("restart_on_config_change", True), f"{what}: restart_on_config_change"
        ),
        stop_grace=float(stop_grace),
        enabled=validate_flag(options.get("enabled", True), f"{what}: enabled"),
    )
    try:
        # Also what Postgres could not store (NUL, lone surrogates) and the size limit:
        # a config that could never be written fails here, not at start().
        validate_config(worker.schema, worker.config)
    except InvalidConfig as exc:
        raise InvalidConfig(f"{what}: {exc}") from exc
    return worker
