"""The README's sections run as written: the recipe's code blocks, executed in order, give a
working River-style recipe and its persistent-worker alternative; the hooks' give a
client whose middleware carry a request id to a sync handler, with OpenTelemetry on."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from engine import Client
from engine.admin import Admin
from engine.admin.models import WorkerStatus
from tests.helpers import ROOT, wait_for

SECTION = "## From River's recipe to a persistent worker"


def section_code(heading: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return re.findall(r"```python\n(.*?)```", text[start : end if end > 0 else None], re.S)


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


HOOKS = "## Hooks and OpenTelemetry"


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
