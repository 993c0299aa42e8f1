"""pqw: a Postgres job queue with persistent workers."""

from engine.client import Client, JobHandler, JobSpec
from engine.errors import (
    DatabaseUnavailable,
    DuplicateKind,
    InvalidConfig,
    InvalidJobOption,
    InvalidJobType,
    InvalidSchedule,
    NotFound,
    PqwError,
    SchemaError,
)
from engine.maintenance import MaintenanceConfig, Retention
from engine.periodic import cron, every
from engine.persistent import PersistentContext
from engine.types import (
    InsertOpts,
    InsertResult,
    Job,
    JobCancel,
    JobSnooze,
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
    "InvalidJobOption",
    "InvalidJobType",
    "InvalidSchedule",
    "Job",
    "JobCancel",
    "JobHandler",
    "JobSnooze",
    "JobSpec",
    "JobState",
    "MaintenanceConfig",
    "NotFound",
    "PersistentContext",
    "PqwError",
    "Retention",
    "SchemaError",
    "UniqueOpts",
    "cron",
    "every",
]
