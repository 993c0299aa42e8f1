"""`pqw workers state|history|logs|configs|reset-state NAME [--json]`: what a persistent
worker remembers, from the shell (engine/cli/workers.py offers them).

One coroutine per command, each taking an open Admin and the parsed arguments (`name`,
`json`, `limit`, `yes`), so another command group can offer them under its own name.
Exit codes: 0 done, 1 not found or refused (the message says why), 2 usage.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime

from engine.admin.admin import Admin
from engine.cli.output import OK, clean, confirm, to_json

Command = Callable[[Admin, argparse.Namespace], Awaitable[int]]


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S%z}" if at is not None else "-"


async def state(admin: Admin, args: argparse.Namespace) -> int:
    """Print the worker's last checkpoint (its state), or that it has none."""
    name = args.name
    found = await admin.worker_state(name)
    if args.json:
        print(to_json(asdict(found)))
        return OK
    if not found.checkpointed:
        reset = f" (reset by {found.reset_by} at {_when(found.reset_at)})" if found.reset_at else ""
        print(f"{name}: no state{reset}: the next run starts with ctx.state = None")
        return OK
    print(
        f"{name}: checkpoint {found.version}, {found.size} bytes, by run {found.run} "
        f"({found.client_id}) at {_when(found.checkpointed_at)}"
    )
    print(json.dumps(found.state, indent=2, ensure_ascii=False))
    return OK


async def history(admin: Admin, args: argparse.Namespace) -> int:
    """Print the worker's runs, newest first, with how each ended."""
    runs = await admin.worker_runs(args.name, args.limit or 50)
    if args.json:
        print(to_json([asdict(r) | {"duration": r.duration} for r in runs]))
        return OK
    if not runs:
        print(f"{args.name}: no runs recorded")
    for r in runs:
        line = (
            f"#{r.run:<5} {r.how:<14} {r.duration:>10.1f}s  {r.where:<28} "
            f"v{r.config_version:<4} started {_when(r.started_at)}"
        )
        print(f"{line}  {clean(r.error)}" if r.error else line)
    return OK


async def logs(admin: Admin, args: argparse.Namespace) -> int:
    """Print the newest lines of the worker's log, oldest first."""
    lines = await admin.worker_log(args.name, limit=args.limit or 200)
    if args.json:
        print(to_json([asdict(x) | {"level_name": x.level_name} for x in lines]))
        return OK
    if not lines:
        print(f"{args.name}: no log lines yet")
    for x in lines:
        # One line each, escapes shown, not acted on: as `jobs show` prints an error.
        print(f"{_when(x.at)} run {x.run} {x.level_name:<7} {clean(x.logger)}: {clean(x.message)}")
    return OK


async def configs(admin: Admin, args: argparse.Namespace) -> int:
    """Print the worker's config versions, newest first, with who made each."""
    versions = await admin.worker_configs(args.name, args.limit or 20)
    if args.json:
        print(to_json([asdict(v) for v in versions]))
        return OK
    for v in versions:
        print(f"v{v.version:<5} {_when(v.changed_at)}  {v.changed_by:<24} {json.dumps(v.config)}")
    return OK


async def reset_state(admin: Admin, args: argparse.Namespace) -> int:
    """Forget the worker's state, after asking (or with --yes)."""
    name = args.name
    question = f"forget the state of {name} (its next run starts with none)?"
    refused = await confirm(f"{args.command} reset-state", question, yes=args.yes)
    if refused is not None:
        return refused
    done = await admin.reset_worker_state(name)
    if args.json:
        print(to_json(asdict(done)))
    else:
        print(f"{name}: state reset (version {done.version}); its next run starts with none")
    return OK


COMMANDS: dict[str, Command] = {
    "state": state,
    "history": history,
    "logs": logs,
    "configs": configs,
    "reset-state": reset_state,
}
ACTIONS = tuple(COMMANDS)
