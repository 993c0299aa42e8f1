"""The `pqw` command: migrate, worker, demo, queue, persistent, bench."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from engine import migrate
from engine.db import connect
from engine.dsn import describe_dsn, resolve_dsn
from engine.errors import PqwError

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def add_dsn_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn",
        help="Postgres URL (default: $PQW_DATABASE_URL, $DATABASE_URL, else the embedded server)",
    )


async def cmd_migrate(args: argparse.Namespace) -> int:
    dsn = resolve_dsn(args.dsn)
    conn = await connect(dsn)
    try:
        where = describe_dsn(dsn)
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


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], str]] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pqw", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="apply, revert or show schema migrations")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--target", type=int, help="stop at this version (down: keep it)")
    add_dsn_option(p)
    p.set_defaults(run=cmd_migrate)

    for name, (help_text, configure, _module) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        configure(p)
    return parser


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command's coroutine; pqw's own errors become one line and exit 1."""
    try:
        return asyncio.run(handler(args))
    except PqwError as exc:
        print(f"pqw: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Any = args.run
    return run_command(run, args)


if __name__ == "__main__":
    sys.exit(main())
