"""Every pqw command says how it is used, with an example; a subprocess runs it as users do."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import Iterator

import asyncpg

from engine.cli.main import build_parser
from tests.cli.runner import NO_DATABASE, pqw
from tests.helpers import ROOT, run_pqw
from tests.tui.seed import add_job_in_state


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand, aliases left out (`migrate up`: a positional's choice)."""
    for action in parser._actions:
        if isinstance(action, argparse._StoreAction) and path and not action.option_strings:
            yield from ((*path, str(choice)) for choice in action.choices or ())
        elif isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                yield (*path, name)
                yield from commands(sub, (*path, name))


async def test_every_command_has_help_with_an_example() -> None:
    found = list(commands(build_parser()))
    assert ("jobs", "retry") in found and ("workers", "reset-state") in found
    assert ("queues", "scale") in found and ("clients", "list") in found
    assert ("periodic", "run") in found and ("migrate",) in found
    for command in found:
        result = await pqw(NO_DATABASE, *command, "--help")
        assert result.code == 0, command
        assert "examples:\n  pqw " in result.out, command


async def test_usage_errors_are_one_line_and_exit_2() -> None:
    for argv in (["jobs"], ["jobs", "frobnicate"], ["workers", "list", "a", "b"], ["nope"]):
        result = await pqw(NO_DATABASE, *argv)
        assert result.code == 2 and result.err.count("\n") == 1, (argv, result.err)
        assert "(see pqw" in result.err and result.out == ""


async def test_an_operator_command_in_a_subprocess(dsn: str, conn: asyncpg.Connection) -> None:
    job_id = await add_job_in_state(conn, "discarded")
    done = await asyncio.to_thread(run_pqw, "jobs", "list", "--json", "--dsn", dsn)
    assert done.returncode == 0, done.stderr
    assert [j["id"] for j in json.loads(done.stdout)] == [job_id]
    refused = await asyncio.to_thread(run_pqw, "jobs", "retry", "--filter", "--dsn", dsn)
    assert refused.returncode == 2 and "add --yes" in refused.stderr


def test_the_readme_lists_commands_that_exist() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Command line")
    section = text[start : text.index("\n## ", start)]
    known = set(commands(build_parser()))
    named = re.findall(r"`pqw ([a-z]+) ([a-z\\|-]+)", section)
    assert len(named) >= 10
    for group, actions in named:
        for action in actions.replace("\\", "").split("|"):
            assert (group, action) in known or group in ("persistent", "queue"), (group, action)


async def test_a_database_that_cannot_be_reached_is_one_line_and_exit_1() -> None:
    unreachable = "postgresql://ops:s3cret@127.0.0.1:1/app"
    for argv in (["jobs", "list"], ["workers", "show", "feed"], ["clients", "list", "--json"]):
        result = await pqw(unreachable, *argv)
        assert (result.code, result.out) == (1, ""), (argv, result.err)
        assert result.err.startswith("pqw: error: ") and result.err.count("\n") == 1
        assert "127.0.0.1:1/app" in result.err and "s3cret" not in result.err
