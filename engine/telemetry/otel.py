"""OpenTelemetry for a client: a span per insert and per job attempt, linked across the
queue by a trace context stored in the job's metadata, and metrics of attempts, queue
wait, inserts, persistent restarts and lease losses.

Across the queue, an attempt's span is *linked* to the span of the insert that
made its job, in a trace of its own (as OpenTelemetry's messaging conventions
suggest for consumers): a job runs seconds or days after the request that
inserted it, maybe many times (retries, snoozes), and one trace per request
should end with the request. `child_of_insert=True` makes each attempt a child
of the insert's span instead, for one trace from the request to every attempt.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

try:
    from opentelemetry import metrics, propagate, trace
    from opentelemetry.context import Context
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.trace import Link, SpanKind, StatusCode
except ImportError as exc:
    raise ImportError(
        "pqw's OpenTelemetry middleware needs the otel extra: pip install 'pqw[otel]' "
        "(or uv add 'pqw[otel]')"
    ) from exc

from engine.hooks import NextInsert, NextWork, PendingInsert, PersistentRunEnd, PersistentRunInfo
from engine.jobs.work_middleware import JobResult
from engine.telemetry import names
from engine.types import Job
from engine.version import VERSION

# The job metadata key under which an insert's trace context travels to its attempts.
METADATA_KEY = "otel"
SCOPE = "pqw"


class OpenTelemetry:
    """Traces and metrics of a client's inserts, attempts and persistent runs.

    `tracer_provider` and `meter_provider` default to OpenTelemetry's global ones,
    `propagator` to its global text map propagator (W3C trace context and baggage
    unless configured otherwise), read at each insert and attempt.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        propagator: TextMapPropagator | None = None,
        child_of_insert: bool = False,
    ) -> None:
        self.tracer = trace.get_tracer(SCOPE, VERSION, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, VERSION, meter_provider=meter_provider)
        self.propagator = propagator
        self.child_of_insert = child_of_insert
        self.attempts = meter.create_counter(
            names.ATTEMPTS, "{attempt}", "Job attempts, by kind, queue and outcome"
        )
        self.duration = meter.create_histogram(
            names.DURATION,
            "s",
            "How long job attempts took, middleware included",
            explicit_bucket_boundaries_advisory=names.SECONDS_BUCKETS,
        )
        self.wait = meter.create_histogram(
            names.WAIT,
            "s",
            "How long jobs waited in their queue: from scheduled_at to the attempt's start",
            explicit_bucket_boundaries_advisory=names.SECONDS_BUCKETS,
        )
        self.inserted = meter.create_counter(
            names.INSERTED, "{job}", "Jobs inserted, by kind and queue (duplicates apart)"
        )
        self.restarts = meter.create_counter(
            names.RESTARTS, "{restart}", "Persistent worker restarts, by worker and reason"
        )
        self.lease_losses = meter.create_counter(
            names.LEASE_LOSSES, "{loss}", "Persistent runs cut off by a lost lease, by worker"
        )

    def _propagator(self) -> TextMapPropagator:
        return self.propagator or propagate.get_global_textmap()

    # -- Inserts --

    async def insert(self, batch: list[PendingInsert], call_next: NextInsert) -> None:
        kinds = {job.kind for job in batch}
        queues = {job.queue for job in batch}
        attributes: dict[str, Any] = {
            names.SYSTEM: "pqw",
            names.OPERATION_TYPE: "send",
            names.OPERATION_NAME: "insert",
        }
        if len(kinds) == 1:
            attributes[names.KIND] = next(iter(kinds))
        if len(queues) == 1:
            attributes[names.QUEUE] = next(iter(queues))
        if len(batch) > 1:
            attributes[names.BATCH_COUNT] = len(batch)
        name = f"pqw.insert {next(iter(kinds))}" if len(kinds) == 1 else "pqw.insert"
        with self.tracer.start_as_current_span(
            name, kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            self._propagator().inject(carrier)
            if carrier:  # nothing to carry when no SDK records this trace
                for job in batch:
                    job.metadata[METADATA_KEY] = carrier
            results = await call_next()
            duplicates: Counter[tuple[str, str]] = Counter()
            inserted: Counter[tuple[str, str]] = Counter()
            for job, result in zip(batch, results, strict=True):
                # Only a unique row can be a duplicate: other results are not looked at
                # (a bulk COPY's are made on first read).
                if job.unique is not None and result.duplicate:
                    duplicates[job.kind, job.queue] += 1
                else:
                    inserted[job.kind, job.queue] += 1
            for (kind, queue), count in inserted.items():
                self.inserted.add(count, {names.KIND: kind, names.QUEUE: queue})
            for (kind, queue), count in duplicates.items():
                self.inserted.add(
                    count, {names.KIND: kind, names.QUEUE: queue, names.DUPLICATE: True}
                )
            if len(batch) == 1:
                job_id = results[0].job.id
                span.set_attributes({names.MESSAGE_ID: str(job_id), names.JOB_ID: job_id})
            span.set_attribute(names.DUPLICATES, sum(duplicates.values()))

    # -- Attempts --

    def _links(self, job: Job) -> tuple[Context | None, list[Link]]:
        """The parent context (child_of_insert) or the link to the insert's span."""
        carrier = job.metadata.get(METADATA_KEY)
        if not isinstance(carrier, Mapping):
            return None, []
        inserted = self._propagator().extract({k: str(v) for k, v in carrier.items()})
        if self.child_of_insert:
            return inserted, []
        span_context = trace.get_current_span(inserted).get_span_context()
        return None, [Link(span_context)] if span_context.is_valid else []

    async def work(self, job: Job, call_next: NextWork) -> JobResult:
        labels = {names.KIND: job.kind, names.QUEUE: job.queue}
        if job.attempted_at is not None:
            waited = (job.attempted_at - job.scheduled_at).total_seconds()
            self.wait.record(max(0.0, waited), labels)
        parent, links = self._links(job)
        span = self.tracer.start_span(
            f"pqw.work {job.kind}",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                names.SYSTEM: "pqw",
                names.OPERATION_TYPE: "process",
                names.OPERATION_NAME: "work",
                names.QUEUE: job.queue,
                names.MESSAGE_ID: str(job.id),
                names.JOB_ID: job.id,
                names.KIND: job.kind,
                names.ATTEMPT: job.attempt,
                names.PRIORITY: job.priority,
            },
        )
        started = time.monotonic()
        # Current while the handler runs: its own spans (in a thread too) are children.
        with trace.use_span(span, end_on_exit=True):
            result = await call_next()
            outcome = names.OUTCOMES[result.state] if result.state else names.LEASE_LOST
            span.set_attribute(names.OUTCOME, outcome)
            if outcome in names.FAILED:
                if result.error is not None:
                    span.record_exception(result.error)
                span.set_status(StatusCode.ERROR, result.message)
        labelled = {**labels, names.OUTCOME: outcome}
        self.attempts.add(1, labelled)
        self.duration.record(time.monotonic() - started, labelled)
        return result

    # -- Persistent runs --

    def persistent_run_ended(self, run: PersistentRunInfo, end: PersistentRunEnd) -> None:
        if end.restarts:
            self.restarts.add(1, {names.WORKER: run.worker, names.END_REASON: end.reason})
        if end.lease_lost:
            self.lease_losses.add(1, {names.WORKER: run.worker})
