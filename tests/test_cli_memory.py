"""`pqw persistent state|history|logs|configs|reset-state`: what a worker remembers, from the shell."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from engine import Client, PersistentContext
from engine.admin import Admin, WorkerStatus
from tests.helpers import run_pqw, wait_for


async def pqw(*args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(run_pqw, *args)
    return result.returncode, result.stdout, result.stderr


async def test_state_history_logs_and_reset_from_the_shell(
    make_client: Callable[..., Client], dsn: str, admin: Admin
) -> None:
    client = make_client()
    checkpointed = asyncio.Event()

    @client.persistent("tally", config={"step": 2})
    async def tally(ctx: PersistentContext) -> None:
        await ctx.checkpoint({"offset": 42})
        ctx.log("at offset 42")
        checkpointed.set()
        while not ctx.stopping:
            await ctx.sleep(60)

    await client.start()
    await asyncio.wait_for(checkpointed.wait(), 10)
    await wait_for(lambda: _logged(admin), message="the log line written")

    code, out, _ = await pqw("persistent", "state", "tally", "--json", "--dsn", dsn)
    assert code == 0 and json.loads(out)["state"] == {"offset": 42}
    code, out, _ = await pqw("persistent", "state", "tally", "--dsn", dsn)
    assert code == 0 and "checkpoint 1, 13 bytes, by run 1" in out and '"offset": 42' in out
    code, out, _ = await pqw("persistent", "history", "tally", "--dsn", dsn)
    assert code == 0 and out.startswith("#1") and "running" in out
    code, out, _ = await pqw("persistent", "history", "tally", "--json", "--dsn", dsn)
    assert code == 0 and json.loads(out)[0]["run"] == 1
    code, out, _ = await pqw("persistent", "logs", "tally", "--dsn", dsn)
    assert code == 0 and "INFO    tally: at offset 42" in out
    code, out, _ = await pqw("persistent", "configs", "tally", "--json", "--dsn", dsn)
    assert code == 0 and json.loads(out)[0]["changed_by"] == "code default"

    # No terminal to ask on: refused unless --yes; and never while a run is under way.
    code, _, err = await pqw("persistent", "reset-state", "tally", "--dsn", dsn)
    assert code == 2 and "add --yes" in err
    code, _, err = await pqw("persistent", "reset-state", "tally", "--yes", "--dsn", dsn)
    assert code == 1 and "has a run under way" in err
    await admin.stop_worker("tally")
    await wait_for(lambda: _stopped(admin), message="stopped")
    code, out, _ = await pqw("persistent", "reset-state", "tally", "--yes", "--dsn", dsn)
    assert code == 0 and "state reset (version 2)" in out
    assert (await admin.worker_state("tally")).state is None
    code, out, _ = await pqw("persistent", "list", "--json", "--dsn", dsn)
    assert code == 0 and [w["name"] for w in json.loads(out)] == ["tally"]

    # Exit codes: 1 for a worker that does not exist, 2 for a command called wrongly.
    for action in ("state", "history", "logs"):
        code, _, err = await pqw("persistent", action, "nobody", "--json", "--dsn", dsn)
        assert code == 1 and "no persistent worker named 'nobody'" in err
    code, _, err = await pqw("persistent", "history", "--dsn", dsn)
    assert code == 2 and "a worker name is required" in err
    code, _, err = await pqw("persistent", "logs", "tally", "-n", "0", "--dsn", dsn)
    assert code == 2 and "must be at least 1" in err


async def test_log_lines_show_control_characters_escaped(
    make_client: Callable[..., Client], dsn: str, admin: Admin
) -> None:
    """A log message is the worker's text: printed raw, an escape sequence in it would
    recolour the operator's terminal, and a newline would forge a second log line."""
    client = make_client()
    message = "red \x1b[31mansi\x1b[0m \n second line"

    @client.persistent("painter")
    async def painter(ctx: PersistentContext) -> None:
        ctx.log(message)
        while not ctx.stopping:
            await ctx.sleep(60)

    await client.start()
    await wait_for(lambda: _logged(admin, message, "painter"), message="the log line written")
    code, out, _ = await pqw("workers", "logs", "painter", "--dsn", dsn)
    assert code == 0 and "\x1b" not in out and "\n second line" not in out
    assert out.endswith("painter: red \\x1b[31mansi\\x1b[0m \\n second line\n"), out
    code, out, _ = await pqw("workers", "logs", "painter", "--json", "--dsn", dsn)
    assert code == 0 and json.loads(out)[-1]["message"] == message


async def _logged(admin: Admin, message: str = "at offset 42", name: str = "tally") -> bool:
    return any(x.message == message for x in await admin.worker_log(name))


async def _stopped(admin: Admin) -> bool:
    return (await admin.get_worker("tally")).status is WorkerStatus.STOPPED
