"""OpenTelemetry middleware against real jobs: spans per insert and attempt, linked (or
parented) across the queue through the job's metadata, metrics per kind and queue, and
persistent restarts and lease losses; read with the SDK's in-memory exporter and reader."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from engine import Client, Job, PersistentContext, UniqueOpts
from engine.admin import Admin
from engine.telemetry import METADATA_KEY, OpenTelemetry
from tests.helpers import ROOT, wait_for


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def middleware(self, **options: Any) -> OpenTelemetry:
        return OpenTelemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
        )

    def finished(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name == name]

    def points(self, metric: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """Each data point of `metric` by its attributes: a counter's value, a histogram's count."""
        found: dict[frozenset[tuple[str, Any]], Any] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name == metric:
                        for p in m.data.data_points:
                            key = frozenset((p.attributes or {}).items())
                            found[key] = getattr(p, "value", None) or getattr(p, "count", None)
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(spans, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def labels(**attributes: Any) -> frozenset[tuple[str, Any]]:
    names = {"kind": "pqw.job.kind", "queue": "messaging.destination.name"}
    return frozenset((names.get(k, k.replace("_", ".")), v) for k, v in attributes.items())


async def test_each_insert_and_attempt_has_a_span_linked_across_the_queue(
    make_client: Callable[..., Client], telemetry: Telemetry
) -> None:
    client = make_client(queues={"default": 2}, middleware=[telemetry.middleware()])
    app = telemetry.tracer_provider.get_tracer("app")
    handled = threading.Event()

    @client.job("greet")
    def greet(job: Job) -> None:  # sync: its spans are made in a thread
        with app.start_as_current_span("inside the handler"):
            handled.set()

    @client.job("flaky", max_attempts=2)
    async def flaky(job: Job) -> None:
        raise ValueError("no luck")

    with app.start_as_current_span("request") as request:
        job = (await greet.enqueue({"to": "Ada"})).job
        failing = (await flaky.enqueue({})).job
    await client.insert_many([("greet", {"n": n}) for n in range(3)])
    await client.start()
    await wait_for(lambda: len(telemetry.finished("pqw.work greet")) == 4, message="4 greets")
    await wait_for(lambda: len(telemetry.finished("pqw.work flaky")) == 2, message="2 flakies")

    insert = next(
        s for s in telemetry.finished("pqw.insert greet") if s.attributes["pqw.job.id"] == job.id
    )
    assert insert.kind is SpanKind.PRODUCER and insert.parent is not None
    assert insert.parent.span_id == request.get_span_context().span_id
    assert insert.attributes["messaging.system"] == "pqw"
    assert insert.attributes["messaging.destination.name"] == "default"
    # The insert's trace context travels in the job's metadata (W3C traceparent).
    traceparent = job.metadata[METADATA_KEY]["traceparent"]
    assert traceparent.split("-")[1:3] == [
        f"{insert.context.trace_id:032x}",
        f"{insert.context.span_id:016x}",
    ]
    batch = telemetry.finished("pqw.insert greet")[-1]
    assert batch.attributes["messaging.batch.message_count"] == 3

    work = next(
        s for s in telemetry.finished("pqw.work greet") if s.attributes["pqw.job.id"] == job.id
    )
    assert work.kind is SpanKind.CONSUMER and work.parent is None  # a trace of its own
    assert [link.context.span_id for link in work.links] == [insert.context.span_id]
    assert work.context.trace_id != insert.context.trace_id
    assert {k: work.attributes[k] for k in ("messaging.system", "pqw.job.kind")} == {
        "messaging.system": "pqw",
        "pqw.job.kind": "greet",
    }
    assert work.attributes["messaging.destination.name"] == "default"
    assert work.attributes["messaging.message.id"] == str(job.id)
    assert work.attributes["pqw.job.attempt"] == 1
    assert work.attributes["pqw.job.outcome"] == "completed"
    assert work.status.status_code is StatusCode.UNSET
    inside = [s for s in telemetry.spans.get_finished_spans() if s.name == "inside the handler"]
    assert work.context.span_id in {s.parent.span_id for s in inside if s.parent is not None}

    first, second = sorted(
        telemetry.finished("pqw.work flaky"), key=lambda s: s.attributes["pqw.job.attempt"]
    )
    assert [first.attributes["pqw.job.outcome"], second.attributes["pqw.job.outcome"]] == [
        "retried",
        "discarded",
    ]
    assert first.status.status_code is StatusCode.ERROR
    assert first.status.description == "ValueError: no luck"
    assert [e.name for e in first.events] == ["exception"]
    flaky_insert = next(
        s
        for s in telemetry.finished("pqw.insert flaky")
        if s.attributes["pqw.job.id"] == failing.id
    )
    # Every attempt links to the one insert.
    assert {s.links[0].context.span_id for s in (first, second)} == {flaky_insert.context.span_id}


async def test_child_of_insert_makes_every_attempt_part_of_the_inserts_trace(
    make_client: Callable[..., Client], telemetry: Telemetry
) -> None:
    client = make_client(
        queues={"default": 1}, middleware=[telemetry.middleware(child_of_insert=True)]
    )

    @client.job("traced")
    async def traced(job: Job) -> None:
        pass

    await client.start()
    await traced.enqueue({})
    await wait_for(lambda: telemetry.finished("pqw.work traced"), message="the attempt's span")
    (insert,) = telemetry.finished("pqw.insert traced")
    (work,) = telemetry.finished("pqw.work traced")
    assert work.parent is not None and work.parent.span_id == insert.context.span_id
    assert work.context.trace_id == insert.context.trace_id and not work.links


async def test_metrics_count_attempts_waits_and_inserts_per_kind_and_queue(
    make_client: Callable[..., Client], telemetry: Telemetry
) -> None:
    client = make_client(queues={"default": 2, "mail": 2}, middleware=[telemetry.middleware()])

    @client.job("email.send", queue="mail")
    async def send(job: Job) -> None:
        pass

    @client.job("flaky", max_attempts=2)
    async def flaky(job: Job) -> None:
        raise ValueError("no luck")

    unique = UniqueOpts(by_args=True)
    await client.insert_many([("email.send", {"n": n}) for n in range(3)])
    await flaky.enqueue({}, unique=unique)
    assert (await flaky.enqueue({}, unique=unique)).duplicate
    await client.start()

    def attempts() -> dict[frozenset[tuple[str, Any]], Any]:
        return telemetry.points("pqw.job.attempts")

    await wait_for(lambda: sum(attempts().values()) == 5, message="five attempts counted")
    assert attempts() == {
        labels(kind="email.send", queue="mail", pqw_job_outcome="completed"): 3,
        labels(kind="flaky", queue="default", pqw_job_outcome="retried"): 1,
        labels(kind="flaky", queue="default", pqw_job_outcome="discarded"): 1,
    }
    assert telemetry.points("pqw.job.wait") == {
        labels(kind="email.send", queue="mail"): 3,
        labels(kind="flaky", queue="default"): 2,
    }
    assert sum(telemetry.points("pqw.job.duration").values()) == 5
    assert telemetry.points("pqw.job.inserted") == {
        labels(kind="email.send", queue="mail"): 3,
        labels(kind="flaky", queue="default"): 1,
        labels(kind="flaky", queue="default", pqw_job_duplicate=True): 1,
    }


async def test_metrics_count_persistent_restarts_and_lease_losses(
    make_client: Callable[..., Client], telemetry: Telemetry, admin: Admin
) -> None:
    client = make_client(middleware=[telemetry.middleware()])
    runs: list[int] = []

    @client.persistent("follower", heartbeat_interval=0.2, heartbeat_timeout=2.0)
    async def follower(ctx: PersistentContext) -> None:
        runs.append(ctx.job_id)
        if len(runs) == 1:
            raise ConnectionError("upstream down")
        await asyncio.Event().wait()  # until cancelled

    await client.start()
    await wait_for(lambda: len(runs) == 2, timeout=20, message="the run after the crash")
    assert telemetry.points("pqw.persistent.restarts") == {
        frozenset({("pqw.worker", "follower"), ("pqw.persistent.end_reason", "crash")}): 1
    }
    await admin.pool.execute("UPDATE pqw_job SET attempt = attempt + 1 WHERE id = $1", runs[1])
    await wait_for(
        lambda: telemetry.points("pqw.persistent.lease_losses"), timeout=20, message="lease loss"
    )
    assert telemetry.points("pqw.persistent.lease_losses") == {
        frozenset({("pqw.worker", "follower")}): 1
    }


def test_importing_the_engine_imports_no_opentelemetry() -> None:
    probe = (
        "import sys, engine, engine.admin, engine.hooks, engine.cli.main; "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_without_the_extra_enabling_it_says_what_to_install() -> None:
    probe = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "try:\n    import engine.telemetry\nexcept ImportError as exc:\n    print(exc)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "pip install 'pqw[otel]'" in out.stdout
