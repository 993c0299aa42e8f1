"""`pqw workers ...` (alias `pqw persistent ...`): persistent workers from the shell.

list, show, start, stop, restart, config and delete here; state, history, logs, configs
and reset-state (what a worker remembers) come from engine/cli/worker_memory.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from engine.cli import output, worker_memory
from engine.cli.options import Handler, add_dsn_option, add_operator_options, with_admin
from engine.cli.parsing import add_actions, add_command, positive
from engine.errors import InvalidConfig

if TYPE_CHECKING:
    from engine.admin import Admin, WorkerInfo


def worker_document(w: WorkerInfo) -> dict[str, Any]:
    """A worker as `--json` gives it: its fields, and what they tell (uptime, where)."""
    doc: dict[str, Any] = output.document(w)
    return doc | {"uptime": w.uptime, "heartbeat_age": w.heartbeat_age, "where": w.where}


async def list_workers(admin: Admin, args: argparse.Namespace) -> int:
    workers = await admin.list_persistent_workers()
    if args.json:
        return output.print_json([output.document(w) for w in workers])
    rows = [
        (
            w.name,
            w.status,
            w.where,
            output.seconds(w.uptime) if w.uptime is not None else None,
            w.runs,
            w.restarts,
            output.ago(w.last_heartbeat, w.now) if w.last_heartbeat else None,
            w.last_error,
        )
        for w in workers
    ]
    headers = ("NAME", "STATUS", "WHERE", "UP", "RUNS", "RESTARTS", "HEARTBEAT", "LAST ERROR")
    return output.print_table(headers, rows, "no persistent workers")


def _next_run(w: WorkerInfo) -> str:
    """When the next run starts; while one is live (its job running or about to), that one."""
    if w.job_id is not None:
        return f"{output.NONE} (its run is job {w.job_id}, {w.job_state})"
    if not w.enabled:
        return f"{output.NONE} (stopped)"
    return output.ago(w.next_run_at, w.now)


async def show_worker(admin: Admin, args: argparse.Namespace) -> int:
    w = await admin.get_worker(args.name)
    if args.json:
        return output.print_json(worker_document(w))
    c = output.clean
    where = f" on {c(w.where)}" if w.where else ""
    up = f" for {output.seconds(w.uptime)}" if w.uptime is not None else ""
    lines = [
        f"{c(w.name)}  {w.status}{where}{up}",
        f"{'enabled':<12} {'yes' if w.enabled else 'no (stopped by an operator)'}",
        f"{'queue':<12} {c(w.queue)}",
        f"{'config':<12} v{w.config_version} {c(output.compact(w.config))}",
        f"{'heartbeat':<12} {output.ago(w.last_heartbeat, w.now)} (every "
        f"{output.seconds(w.heartbeat_interval)}, lost after {output.seconds(w.heartbeat_timeout)})",
        f"{'runs':<12} {w.runs} (restarts {w.restarts}, failures in a row "
        f"{w.consecutive_failures})",
        f"{'next run':<12} {_next_run(w)}",
        f"{'updated':<12} {output.ago(w.updated_at, w.now)} by {c(w.updated_by or '-')}",
    ]
    if w.progress is not None:
        lines.append(
            f"{'progress':<12} {c(output.compact(w.progress))} ({output.ago(w.progress_at, w.now)})"
        )
    if w.last_error:
        lines.append(f"{'last error':<12} {c(w.last_error)} ({output.ago(w.last_error_at, w.now)})")
    if w.keeps_ending:
        lines.append("note: its handler keeps returning soon after it starts: does it loop?")
    print("\n".join(lines))
    return output.OK


def _change(verb: str) -> Callable[[Admin, argparse.Namespace], Awaitable[int]]:
    async def change(admin: Admin, args: argparse.Namespace) -> int:
        await getattr(admin, f"{verb}_worker")(args.name)
        if args.json:
            return output.print_json({"name": args.name, "action": verb})
        print(f"{output.clean(args.name)}: {verb} requested")
        return output.OK

    return change


async def delete_worker(admin: Admin, args: argparse.Namespace) -> int:
    await admin.delete_worker(args.name)
    if args.json:
        return output.print_json({"name": args.name, "action": "delete"})
    print(f"{output.clean(args.name)}: deleted")
    return output.OK


def _set_value(pair: str, schema: dict[str, Any] | None) -> tuple[str, Any]:
    """key=value: the value as JSON (30, true, [1]) unless the schema wants text there."""
    key, _, text = pair.partition("=")
    kind = ((schema or {}).get("properties") or {}).get(key, {}).get("type")
    if kind == "string":
        return key, text
    try:
        return key, json.loads(text)
    except ValueError:
        return key, text


async def set_config(admin: Admin, args: argparse.Namespace) -> int:
    """Replace the whole config (--json, the positional, - for stdin) or change keys of
    the current one (--set: of the config as read just before, so of two operators
    setting keys at once the later wins); the worker's schema refuses a bad one and
    nothing changes."""
    given = args.json if isinstance(args.json, str) else args.config
    if given is not None:
        # "-": from stdin, for a config longer than a command line may be.
        config: Any = sys.stdin.read() if given == "-" else given
        if args.set:
            return output.usage("workers config", "give --set or a whole config, not both")
    elif args.set:
        worker = await admin.get_worker(args.name)
        config = dict(worker.config)
        config.update(_set_value(pair, worker.config_schema) for pair in args.set)
    else:
        return output.usage(
            "workers config", "give --set key=value, or the new config as JSON (- reads it)"
        )
    try:
        version = await admin.set_worker_config(args.name, config)
    except InvalidConfig as exc:
        return output.refused(f"{exc} (nothing changed)")
    if args.json:
        found = await admin.get_worker(args.name)
        return output.print_json({"name": args.name, "version": version, "config": found.config})
    print(f"{output.clean(args.name)}: config v{version}")
    return output.OK


def _needs_name(command: Callable[[Admin, argparse.Namespace], Awaitable[int]]) -> Handler:
    """The command, refused with exit 2 before connecting when no worker was named."""
    run = with_admin(command)

    async def named(args: argparse.Namespace) -> int:
        if not args.name:
            return output.usage(f"{args.command} {args.action}", "a worker name is required")
        return await run(args)

    return named


def _key_value(text: str) -> str:
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"not key=value: {text!r}")
    return text


MEMORY_HELP = {
    "state": ("its last checkpoint (the state its next run starts with)", ""),
    "history": ("its runs, newest first, with how each ended", " -n 10"),
    "logs": ("the newest lines of its log", " -n 50"),
    "configs": ("its config versions, newest first, with who made each", ""),
    "reset-state": ("forget its state (asks first, unless --yes)", " --yes"),
}


def configure(commands: Any) -> None:
    group = add_command(
        commands,
        "workers",
        aliases=["persistent"],
        help="list, show, start, stop, restart, reconfigure or delete persistent workers; "
        "their state, history and logs",
        examples=["pqw workers list", "pqw workers restart feed", "pqw workers logs feed -n 20"],
    )
    actions = add_actions(group)
    p = add_command(
        actions,
        "list",
        help="every persistent worker with its status",
        examples=["pqw workers list", "pqw workers list --json"],
        run=with_admin(list_workers),
    )
    p.add_argument("name", nargs="?", help=argparse.SUPPRESS)  # `persistent list x` worked
    add_operator_options(p)
    named: list[tuple[str, str, Callable[[Admin, argparse.Namespace], Awaitable[int]]]] = [
        ("show", "one worker: status, config, heartbeat, last error", show_worker),
        ("start", "enable the worker: a run starts on a client within a second", _change("start")),
        ("stop", "disable the worker: its run is told to stop, none follows", _change("stop")),
        ("restart", "end the current run gracefully and start a new one", _change("restart")),
        ("delete", "remove a worker no live client defines any more", delete_worker),
    ]
    for action, what, command in named:
        p = add_command(
            actions,
            action,
            help=what,
            examples=[f"pqw workers {action} feed", f"pqw workers {action} feed --json"],
            run=_needs_name(command),
        )
        p.add_argument("name", nargs="?", metavar="NAME")
        add_operator_options(p)
    p = add_command(
        actions,
        "config",
        help="change the worker's config, validated by its schema (a refused one changes nothing)",
        examples=[
            "pqw workers config feed --set interval=30 --set url=https://example.com/feed",
            """pqw workers config feed --json '{"interval": 30}'""",
            "pqw workers config feed - < config.json",
        ],
        run=_needs_name(set_config),
    )
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("config", nargs="?", help="the whole new config as JSON, or - to read it")
    p.add_argument(
        "--set", action="append", type=_key_value, metavar="KEY=VALUE", help="change one key"
    )
    add_dsn_option(p)
    # --json CONFIG gives the whole config (and answers in JSON); bare --json: JSON output.
    p.add_argument(
        "--json",
        nargs="?",
        const=True,
        default=False,
        metavar="CONFIG",
        help="the whole new config as JSON; alone: print one JSON document",
    )
    for action, (what, extra) in MEMORY_HELP.items():
        p = add_command(
            actions,
            action,
            help=what,
            examples=[f"pqw workers {action} feed{extra}", f"pqw workers {action} feed --json"],
            run=_needs_name(worker_memory.COMMANDS[action]),
        )
        p.add_argument("name", nargs="?", metavar="NAME")
        p.add_argument("-n", "--limit", type=positive, help="how many runs, lines or versions")
        if action == "reset-state":
            p.add_argument("--yes", action="store_true", help="reset without asking")
        add_operator_options(p)
