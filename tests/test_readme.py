"""The README's sections run as written, every Python block of it: the jobs sections insert,
dedupe and schedule on a real database and define persistent workers that run; the
recipe's give a working River-style recipe and its persistent-worker alternative; the
hooks' a client whose middleware carry a request id to a sync handler, with
OpenTelemetry on; the testing section's example tests pass."""

from __future__ import annotations

import ast
import inspect
import logging
import re
from typing import Any

import pytest

from engine import Client
from engine.admin import Admin
from engine.admin.models import WorkerStatus
from engine.testing import assert_inserted, run_persistent
from tests.helpers import ROOT, wait_for

SECTION = "## From River's recipe to a persistent worker"
JOBS = ("## Defining jobs", "## Unique jobs", "## Periodic jobs", "## Persistent workers")
HOOKS = "## Hooks and OpenTelemetry"
TESTING = "## Testing your handlers"
# Every section with Python blocks, and a test below that runs them.
RUN_HERE = {*JOBS, SECTION, HOOKS, TESTING}


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def section_code(heading: str) -> list[str]:
    text = readme()
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return re.findall(r"```python\n(.*?)```", text[start : end if end > 0 else None], re.S)


async def run_block(block: str, namespace: dict[str, Any]) -> None:
    """Run a block as a notebook would: top-level `await` allowed."""
    code = compile(block, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # exec's twin that hands back the coroutine
    if inspect.iscoroutine(result):
        await result


def test_every_python_block_of_the_readme_runs_in_these_tests() -> None:
    sections = re.split(r"\n(?=## )", readme())
    with_code = {
        part.splitlines()[0] for part in sections if "```python" in part and part.startswith("## ")
    }
    assert with_code == RUN_HERE
    blocks = sum(len(section_code(h)) for h in RUN_HERE)
    assert blocks == readme().count("```python") == 10


async def test_the_readmes_jobs_sections_run_as_written(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The blocks find their database as an application would: DATABASE_URL.
    monkeypatch.delenv("PQW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", dsn)
    namespace: dict[str, Any] = {}
    try:
        for heading in JOBS:
            for block in section_code(heading):
                await run_block(block, namespace)  # the unique block asserts its duplicate
        client: Client = namespace["client"]
        await assert_inserted(client.pool, "email.send", count=10_003)
        await assert_inserted(client.pool, "email.send", args={"to": "a@b.c"}, count=3)
        (welcome,) = await assert_inserted(client.pool, "email.send", tags=["welcome"])
        assert (welcome.priority, welcome.queue) == (0, "mail")
        await assert_inserted(client.pool, "report.build", count=1)
        assert [p.kind for p in client.periodic_jobs] == ["reports.rollup", "billing.close"]

        poller = await run_persistent(namespace["feed_poller"], client=client, iterations=3)
        assert poller.progress == [{"polled": 1}, {"polled": 2}, {"polled": 3}]
        assert poller.sleeps == [2.0, 2.0, 2.0]
        consumer = await run_persistent(
            namespace["stream_consumer"], client=client, iterations=2, state={"offset": 41}
        )
        assert consumer.checkpoints == [{"offset": 42}, {"offset": 43}]
        assert [m for _, m in consumer.logs] == ["consuming from offset 41"]
    finally:
        if "app_pool" in namespace:
            await namespace["app_pool"].close()
        if "client" in namespace:
            await namespace["client"].close()


async def test_the_readmes_example_tests_pass(dsn: str) -> None:
    (block,) = section_code(TESTING)
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    tests = {name: fn for name, fn in namespace.items() if name.startswith("test_")}
    assert len(tests) == 4
    for test in tests.values():
        fixtures = inspect.signature(test).parameters  # pqw_database: this test's database
        await test(**dict.fromkeys(fixtures, dsn))


async def test_the_readmes_recipe_and_its_persistent_worker_run_as_written(
    dsn: str, admin: Admin
) -> None:
    blocks = section_code(SECTION)
    assert len(blocks) == 2
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    recipe: Client = namespace["recipe"]
    recipe.configure(dsn=dsn)
    await recipe.start()
    try:

        async def skipped_while_running() -> bool:
            (info,) = await admin.list_periodic_jobs()
            running = await admin.list_running_jobs()
            return info.skips >= 1 and [r.job.kind for r in running] == ["feed.follow"]

        await wait_for(skipped_while_running, timeout=20, message="the recipe's job and a skip")

        async def follower_running() -> bool:
            worker = await admin.get_worker("feed-follower")
            return worker.status is WorkerStatus.RUNNING

        await wait_for(follower_running, timeout=20, message="the persistent worker")
    finally:
        await recipe.stop()
    jobs = await admin.list_jobs(kind="feed.follow")
    assert [j.state for j in jobs] == ["completed"]  # its loop returned on the stop


async def test_the_readmes_hooks_and_opentelemetry_set_up_run_as_written(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    blocks = section_code(HOOKS)
    assert len(blocks) == 2
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    hooked: Client = namespace["hooked"]
    assert [type(m).__name__ for m in hooked.middlewares.registered] == [
        "RequestIds",
        "OpenTelemetry",
    ]
    hooked.configure(dsn=dsn)
    with caplog.at_level(logging.INFO):
        await hooked.start()
        try:
            token = namespace["request_id"].set("req-7")
            try:
                result = await namespace["build_report"].enqueue({"day": "2026-12-01"})
            finally:
                namespace["request_id"].reset(token)
            assert result.job.metadata["request_id"] == "req-7"
            await wait_for(
                lambda: "building the report request req-7 asked for" in caplog.text,
                message="the handler, with the request's id",
            )
            await wait_for(lambda: "completed in" in caplog.text, message="the attempt logged")
        finally:
            await hooked.stop()
    assert "inserted 1 job(s), 0 duplicate(s)" in caplog.text
