"""The `pqw` command line: its parser, the demo, and one-line errors.

Each command group lives in a module of its own: migrations, worker, jobs, workers
(worker_memory), queues, periodic, clients and bench; what they print is shaped by
engine/cli/output.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
from collections.abc import Sequence
from typing import Any

import asyncpg

from engine.cli import loop as event_loop
from engine.cli.interrupt import cancelled_by_signals
from engine.cli.options import Handler, add_dsn_option
from engine.cli.parsing import Parser, add_command
from engine.db.dsn import mask_dsn
from engine.db.outage import is_connection_error
from engine.errors import PqwError


async def cmd_demo(args: argparse.Namespace) -> int:
    from engine.cli import demo
    from engine.cli.worker import run_until_signalled

    demo.client.configure(dsn=args.dsn, direct_dsn=args.direct_dsn, pool_mode=args.pool_mode)
    await run_until_signalled(
        demo.client, alongside=demo.produce_traffic, exit_with_parent=args.exit_with_parent
    )
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

    from engine.cli import migrations

    migrations.configure(sub)

    from engine.cli import worker as worker_cli

    p = add_command(
        sub,
        "worker",
        help="run a client from your module until SIGTERM, SIGINT or SIGHUP",
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
    p.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop gracefully when the parent process dies (the dashboard's demo uses it)",
    )

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

    from engine.cli import completion

    completion.configure(sub, parser)
    return parser


# What a tool killed by SIGPIPE reports (128 + 13), which pqw ignores to get EPIPE: not
# 1, which a script reads as "not found", and what `set -o pipefail` expects of `yes | head`.
CLOSED_STDOUT = 141


def stdout_closed() -> bool:
    """True when nobody reads stdout any more (`pqw jobs list | head -1`): its
    BrokenPipeError is no database's. Then stdout is pointed at /dev/null, so the
    interpreter's last flush of what is left does not fail a second time."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file: captured, replaced
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    # A pipe's write end polls as an error once its read end is closed.
    if not any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0)):
        return False
    os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    return True


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command's coroutine; pqw's own errors become one line and exit 1."""
    try:
        # `pqw worker` and `pqw bench` take --loop (uvloop when installed); the rest asyncio.
        command = cancelled_by_signals(handler(args))
        code = event_loop.run(command, getattr(args, "loop", "asyncio"))
        sys.stdout.flush()  # a closed stdout found here, not in the interpreter's exit
        return code
    except PqwError as exc:
        print(f"pqw: error: {exc}", file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:
        print(f"pqw: database error: {mask_dsn(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and stdout_closed():
            return CLOSED_STDOUT
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
