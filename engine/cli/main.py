"""The `pqw` command line: its parser, the operator commands, and one-line errors."""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict
from typing import Any

import asyncpg

from engine.cli import loop as event_loop
from engine.cli.options import add_dsn_option, database_of
from engine.db import migrate
from engine.db.dsn import describe_dsn, mask_dsn
from engine.db.outage import is_connection_error
from engine.db.pool import connect
from engine.errors import PqwError

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


async def cmd_migrate(args: argparse.Namespace) -> int:
    database = database_of(args)
    conn = await connect(database.migration_url)
    try:
        where = describe_dsn(database.migration_url)
        if args.action == "up":
            done = await migrate.migrate_up(conn, args.target)
            if not done:
                print(f"{where}: already up to date (version {migrate.latest_version()})")
            for m in done:
                print(f"{where}: applied {m.version:03d}_{m.name}")
        elif args.action == "down":
            target = 0 if args.target is None else args.target
            done = await migrate.migrate_down(conn, target)
            if not done:
                print(f"{where}: nothing to revert")
            for m in done:
                print(f"{where}: reverted {m.version:03d}_{m.name}")
        else:
            rows = await migrate.status(conn)
            print(f"{where}:")
            for row in rows:
                when = (
                    f"applied {row.applied_at:%Y-%m-%d %H:%M:%S%z}" if row.applied_at else "pending"
                )
                print(f"  {row.version:03d}_{row.name:<28} {when}")
    finally:
        await conn.close()
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    from engine.cli import demo
    from engine.cli.worker import run_until_signalled

    demo.client.configure(dsn=args.dsn, direct_dsn=args.direct_dsn, pool_mode=args.pool_mode)
    await run_until_signalled(demo.client, alongside=demo.produce_traffic)
    return 0


async def cmd_queue(args: argparse.Namespace) -> int:
    from engine.admin import Admin

    admin = await Admin.connect(args.dsn, direct_dsn=args.direct_dsn, pool_mode=args.pool_mode)
    try:
        if args.action == "pause":
            known = [q.queue for q in await admin.queue_state_counts()]
            await admin.pause_queue(args.name)
            print(f"queue {args.name} paused: clients stop fetching from it within a second")
            if args.name not in known:
                print(unknown_queue_note(args.name, known), file=sys.stderr)
        else:
            await admin.resume_queue(args.name)
            print(f"queue {args.name} resumed")
    finally:
        await admin.close()
    return 0


def unknown_queue_note(name: str, known: Sequence[str]) -> str:
    """What to say when a queue nobody knows was paused: fine ahead of its first job, or a typo."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"pqw: note: queue {name!r} has no jobs and no live client works it: it stays paused "
        f"for jobs to come (`pqw queue resume {name}` removes it){hint}"
    )


async def cmd_persistent(args: argparse.Namespace) -> int:
    from engine.admin import Admin
    from engine.cli import worker_memory

    if args.action != "list" and not args.name:
        return worker_memory.usage(f"persistent {args.action}", "a worker name is required")
    admin = await Admin.connect(args.dsn, direct_dsn=args.direct_dsn, pool_mode=args.pool_mode)
    try:
        if args.action == "list":
            workers = await admin.list_persistent_workers()
            if args.json:
                print(worker_memory.to_json([asdict(w) for w in workers]))
                return 0
            if not workers:
                print("no persistent workers")
            for w in workers:
                where = w.where or "-"
                print(
                    f"{w.name:<24} {w.status:<12} {where:<28} runs={w.runs} restarts={w.restarts}"
                )
            return 0
        if args.action in worker_memory.ACTIONS:
            return await worker_memory.run(admin, args)
        if args.action == "start":
            await admin.start_worker(args.name)
        elif args.action == "stop":
            await admin.stop_worker(args.name)
        elif args.action == "restart":
            await admin.restart_worker(args.name)
        elif args.action == "delete":
            await admin.delete_worker(args.name)
            print(f"{args.name}: deleted")
            return 0
        elif args.action == "config":
            if args.config is None:
                raise SystemExit("pqw persistent config: give the new config as JSON (- reads it)")
            # "-": from stdin, for a config longer than a command line may be.
            text = sys.stdin.read() if args.config == "-" else args.config
            version = await admin.set_worker_config(args.name, text)
            print(f"{args.name}: config v{version}")
            return 0
        print(f"{args.name}: {args.action} requested")
    finally:
        await admin.close()
    return 0


async def cmd_periodic(args: argparse.Namespace) -> int:
    from engine.admin import Admin

    admin = await Admin.connect(args.dsn)
    try:
        if args.action == "list":
            schedules = await admin.list_periodic_jobs()
            if not schedules:
                print("no periodic schedules")
            for p in schedules:
                state = "enabled" if p.enabled else "disabled"
                line = f"{p.id:<24} {p.schedule:<24} {state:<9} next {p.next_run_at:%Y-%m-%d %H:%M:%S%z}"
                print(f"{line}  {p.note}" if p.note else line)
            return 0
        if not args.id:
            raise SystemExit(f"pqw periodic {args.action}: a schedule id is required")
        if args.action == "enable":
            await admin.enable_periodic(args.id)
        elif args.action == "disable":
            await admin.disable_periodic(args.id)
        else:
            await admin.delete_periodic(args.id)
        print(f"{args.id}: {args.action}d")
    finally:
        await admin.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pqw",
        description="pqw, a Postgres job queue with persistent workers: "
        "migrate, worker, demo, queue, persistent, periodic, bench.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="apply, revert or show schema migrations")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--target", type=int, help="stop at this version (down: keep it)")
    add_dsn_option(p)
    p.set_defaults(run=cmd_migrate)

    from engine.cli import worker as worker_cli

    p = sub.add_parser("worker", help="run a client from your module until SIGTERM/SIGINT")
    worker_cli.configure(p)

    p = sub.add_parser("demo", help="run the demo persistent workers and jobs")
    add_dsn_option(p)
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("queue", help="pause or resume a queue on every client")
    p.add_argument("action", choices=["pause", "resume"])
    p.add_argument("name")
    add_dsn_option(p)
    p.set_defaults(run=cmd_queue)

    from engine.cli import worker_memory

    p = sub.add_parser(
        "persistent",
        help="list, start, stop, restart, reconfigure or delete workers; "
        "their state, history and logs",
    )
    p.add_argument(
        "action",
        choices=["list", "start", "stop", "restart", "config", "delete", *worker_memory.ACTIONS],
    )
    p.add_argument("name", nargs="?")
    p.add_argument(
        "config", nargs="?", help="the new config as a JSON object, or - to read it (for config)"
    )
    worker_memory.add_options(p)
    add_dsn_option(p)
    p.set_defaults(run=cmd_persistent)

    p = sub.add_parser("periodic", help="list, enable, disable or delete periodic schedules")
    p.add_argument("action", choices=["list", "enable", "disable", "delete"])
    p.add_argument("id", nargs="?")
    add_dsn_option(p)
    p.set_defaults(run=cmd_periodic)

    from engine.cli.bench import command as bench

    p = sub.add_parser("bench", help="measure throughput, latency and failover")
    bench.configure(p)
    return parser


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command's coroutine; pqw's own errors become one line and exit 1."""
    try:
        # `pqw worker` and `pqw bench` take --loop (uvloop when installed); the rest asyncio.
        return event_loop.run(handler(args), getattr(args, "loop", "asyncio"))
    except PqwError as exc:
        print(f"pqw: error: {exc}", file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:
        print(f"pqw: database error: {mask_dsn(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        # Lost after connecting (a restart mid-command): one line, as a failed connect is.
        reason = mask_dsn(str(exc).strip() or type(exc).__name__)
        print(f"pqw: error: the database connection was lost: {reason}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Any = args.run
    return run_command(run, args)
