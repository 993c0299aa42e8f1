"""How a persistent worker is defined in code: its options, checked at definition time."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from engine.errors import DuplicateKind, InvalidJobOption
from engine.jobs.insert_params import validate_queue
from engine.jobs.unique import persistent_kind
from engine.persistent.config_schema import config_schema, validate_config

if TYPE_CHECKING:
    from engine.persistent.context import PersistentContext

PersistentHandler = Callable[["PersistentContext"], Coroutine[Any, Any, None]]


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
    config: Any = options.get("config")
    config_type: Any = options.get("config_type")
    heartbeat_interval = options.get("heartbeat_interval", 1.0)
    heartbeat_timeout = options.get("heartbeat_timeout", 5.0)
    queue = options.get("queue", "persistent")
    stop_grace = options.get("stop_grace", 5.0)
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise InvalidJobOption(f"persistent worker name must be 1 to 100 characters, got {name!r}")
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
    if heartbeat_interval <= 0 or heartbeat_timeout <= heartbeat_interval:
        raise InvalidJobOption(
            f"persistent worker {name!r}: need 0 < heartbeat_interval < heartbeat_timeout, "
            f"got {heartbeat_interval} and {heartbeat_timeout}"
        )
    if stop_grace < 0:
        raise InvalidJobOption(f"persistent worker {name!r}: stop_grace must be >= 0")
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if config_type is not None:
        config_schema(config_type)  # unsupported field types fail here
    worker = PersistentWorker(
        name=name,
        fn=fn,
        config=dict(config or {}),
        config_type=config_type,
        heartbeat_interval=float(heartbeat_interval),
        heartbeat_timeout=float(heartbeat_timeout),
        queue=queue,
        restart_on_config_change=options.get("restart_on_config_change", True),
        stop_grace=float(stop_grace),
        enabled=options.get("enabled", True),
    )
    validate_config(worker.schema, worker.config)
    return worker
