"""pqw: a Postgres job queue with persistent workers."""

from engine.client import Client
from engine.errors import (
    DatabaseUnavailable,
    DuplicateKind,
    InvalidConfig,
    InvalidDatabaseUrl,
    InvalidJobOption,
    InvalidJobType,
    InvalidSchedule,
    NotFound,
    PoolerMisconfigured,
    PqwError,
    SchemaError,
)
from engine.hooks import JobResult, Middleware, PendingInsert, PersistentRunEnd, PersistentRunInfo
from engine.jobs.kinds import JobHandler
from engine.maintenance.config import MaintenanceConfig, Retention
from engine.persistent.context import PersistentContext
from engine.schedules import cron, every
from engine.types import (
    InsertOpts,
    InsertResult,
    Job,
    JobCancel,
    JobSnooze,
    JobSpec,
    JobState,
    UniqueOpts,
)

__all__ = [
    "Client",
    "DatabaseUnavailable",
    "DuplicateKind",
    "InsertOpts",
    "InsertResult",
    "InvalidConfig",
    "InvalidDatabaseUrl",
    "InvalidJobOption",
    "InvalidJobType",
    "InvalidSchedule",
    "Job",
    "JobCancel",
    "JobHandler",
    "JobResult",
    "JobSnooze",
    "JobSpec",
    "JobState",
    "MaintenanceConfig",
    "Middleware",
    "NotFound",
    "PendingInsert",
    "PersistentContext",
    "PersistentRunEnd",
    "PersistentRunInfo",
    "PoolerMisconfigured",
    "PqwError",
    "Retention",
    "SchemaError",
    "UniqueOpts",
    "cron",
    "every",
]
