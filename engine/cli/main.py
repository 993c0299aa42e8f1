"""The `pqw` command line: its parser, migrate and demo, and one-line errors.

The operator commands live one group a module: jobs, workers (worker_memory), queues,
periodic and clients, with their shared output in engine/cli/output.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

import asyncpg

from engine.cli.options import Handler, add_dsn_option, database_of
from engine.cli.parsing import Parser, add_command
from engine.db import migrate
from engine.db.dsn import describe_dsn, mask_dsn
from engine.db.outage import is_connection_error
from engine.db.pool import connect
from engine.errors import PqwError


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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="pqw",
        description="pqw, a Postgres job queue with persistent workers. Operator commands "
        "take --dsn and --json; exit codes: 0 done, 1 not found or refused, 2 usage.",
        epilog="examples:\n  pqw migrate up\n  pqw jobs list --state discarded\n"
        "  pqw workers restart feed\n  pqw queues pause mail --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = add_command(
        sub,
        "migrate",
        help="apply, revert or show schema migrations",
        examples=["pqw migrate up", "pqw migrate status", "pqw migrate down --target 5"],
        run=cmd_migrate,
    )
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--target", type=int, help="stop at this version (down: keep it)")
    add_dsn_option(p)

    from engine.cli import worker as worker_cli

    p = add_command(
        sub,
        "worker",
        help="run a client from your module until SIGTERM/SIGINT",
        examples=["pqw worker myapp.jobs:client", "pqw worker myapp.jobs:client --queues mail=5"],
    )
    worker_cli.configure(p)

    p = add_command(
        sub,
        "demo",
        help="run the demo persistent workers and jobs",
        examples=["pqw demo", "pqw demo --dsn postgresql://localhost/pqw"],
        run=cmd_demo,
    )
    add_dsn_option(p)

    from engine.cli import clients, jobs, periodic, queues, workers

    for group in (jobs, workers, queues, periodic, clients):
        group.configure(sub)

    from engine.cli.bench import command as bench

    p = add_command(
        sub,
        "bench",
        help="measure throughput, latency and failover",
        examples=["pqw bench --only enqueue,drain --jobs 20000", "pqw bench --json"],
    )
    bench.configure(p)
    return parser


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command's coroutine; pqw's own errors become one line and exit 1."""
    try:
        return asyncio.run(handler(args))
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
