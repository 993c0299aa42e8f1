"""The names pqw's telemetry uses: attributes (OpenTelemetry's messaging conventions where
one fits, `pqw.*` where none does), outcome values, metric instruments."""

from __future__ import annotations

from engine.types import JobState

SYSTEM = "messaging.system"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
QUEUE = "messaging.destination.name"
MESSAGE_ID = "messaging.message.id"
BATCH_COUNT = "messaging.batch.message_count"
JOB_ID = "pqw.job.id"
KIND = "pqw.job.kind"
ATTEMPT = "pqw.job.attempt"
PRIORITY = "pqw.job.priority"
OUTCOME = "pqw.job.outcome"
DUPLICATE = "pqw.job.duplicate"
DUPLICATES = "pqw.insert.duplicates"
WORKER = "pqw.worker"
END_REASON = "pqw.persistent.end_reason"

# How an attempt ended, as the pqw.job.outcome attribute says it.
OUTCOMES = {
    JobState.COMPLETED: "completed",
    JobState.RETRYABLE: "retried",
    JobState.SCHEDULED: "snoozed",
    JobState.CANCELLED: "cancelled",
    JobState.DISCARDED: "discarded",
}
LEASE_LOST = "lease_lost"
FAILED = frozenset({"retried", "discarded", LEASE_LOST})

ATTEMPTS = "pqw.job.attempts"
DURATION = "pqw.job.duration"
WAIT = "pqw.job.wait"
INSERTED = "pqw.job.inserted"
RESTARTS = "pqw.persistent.restarts"
LEASE_LOSSES = "pqw.persistent.lease_losses"

# Seconds: from a few milliseconds (a quick job, a busy queue's wait) to minutes.
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
