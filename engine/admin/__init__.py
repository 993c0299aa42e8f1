"""The operator's one door: reads and actions for the dashboard and the CLI.

The dashboard imports this package and nothing else of the engine, so
everything it needs is re-exported here: the Admin and its Protocol, the read
models, job states, the errors it shows, config validation, and the helpers
that find and prepare a database.
"""

from engine.admin.admin import Admin
from engine.admin.api import AdminApi
from engine.admin.bulk_pace import BULK_BATCH, BatchPace, BulkBatchTooSlow
from engine.admin.database import check_reachable, migrate_to_latest
from engine.admin.job_search import BULK_ACTIONS, FAILURES_SCANNED
from engine.admin.models import (
    JOB_ORDERS,
    LATE_AFTER_INTERVALS,
    LIVE_RUN_STATUSES,
    BulkStep,
    ClientInfo,
    FailureGroup,
    JobCount,
    JobQuery,
    LeaderInfo,
    Overview,
    PeriodicInfo,
    QueueCounts,
    RunningJobInfo,
    WorkerInfo,
    WorkerStatus,
)
from engine.admin.schedule_admin import parse_schedule
from engine.admin.worker_models import (
    END_REASONS,
    ConfigVersion,
    WorkerDetail,
    WorkerLogLine,
    WorkerRun,
    WorkerState,
)
from engine.db.dsn import POOL_MODES, configured_dsn, describe_dsn, resolve_dsn
from engine.db.outage import connection_failure, is_connection_error
from engine.errors import (
    DatabaseUnavailable,
    InvalidCheckpoint,
    InvalidConfig,
    InvalidJobOption,
    InvalidSchedule,
    LeaseLost,
    NotFound,
    PqwError,
    SchemaError,
)
from engine.persistent.config_schema import validate_config
from engine.types import FINAL_STATES, Job, JobState

__all__ = [
    "BULK_ACTIONS",
    "BULK_BATCH",
    "END_REASONS",
    "FAILURES_SCANNED",
    "FINAL_STATES",
    "JOB_ORDERS",
    "LATE_AFTER_INTERVALS",
    "LIVE_RUN_STATUSES",
    "POOL_MODES",
    "Admin",
    "AdminApi",
    "BatchPace",
    "BulkBatchTooSlow",
    "BulkStep",
    "ClientInfo",
    "ConfigVersion",
    "DatabaseUnavailable",
    "FailureGroup",
    "InvalidCheckpoint",
    "InvalidConfig",
    "InvalidJobOption",
    "InvalidSchedule",
    "Job",
    "JobCount",
    "JobQuery",
    "JobState",
    "LeaderInfo",
    "LeaseLost",
    "NotFound",
    "Overview",
    "PeriodicInfo",
    "PqwError",
    "QueueCounts",
    "RunningJobInfo",
    "SchemaError",
    "WorkerDetail",
    "WorkerInfo",
    "WorkerLogLine",
    "WorkerRun",
    "WorkerState",
    "WorkerStatus",
    "check_reachable",
    "configured_dsn",
    "connection_failure",
    "describe_dsn",
    "is_connection_error",
    "migrate_to_latest",
    "parse_schedule",
    "resolve_dsn",
    "validate_config",
]
