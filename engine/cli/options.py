"""The options every pqw command takes to find its database, and the Admin they open."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from engine.db.dsn import POOL_MODES, Database, resolve_database

if TYPE_CHECKING:
    from engine.admin import Admin


def add_dsn_option(parser: argparse.ArgumentParser) -> None:
    """--dsn, --direct-dsn and --pool-mode: the database URLs every command takes."""
    parser.add_argument(
        "--dsn",
        help="Postgres or pooler URL "
        "(default: $PQW_DATABASE_URL, $DATABASE_URL, else the embedded server)",
    )
    parser.add_argument(
        "--direct-dsn",
        help="Postgres itself (or a session pool), for what needs a session when --dsn is "
        "a transaction pooler (default: $PQW_DIRECT_URL)",
    )
    parser.add_argument(
        "--pool-mode",
        choices=POOL_MODES,
        help="how the --dsn URL pools connections (default: $PQW_POOL_MODE; else "
        "transaction when a direct URL is given, session when not)",
    )


def database_of(args: argparse.Namespace) -> Database:
    return resolve_database(args.dsn, args.direct_dsn, args.pool_mode)


def add_operator_options(parser: argparse.ArgumentParser) -> None:
    """The database options and --json: what every operator command takes."""
    add_dsn_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")


AdminCommand = Callable[["Admin", argparse.Namespace], Awaitable[int]]
Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def with_admin(command: AdminCommand) -> Handler:
    """The command, run on an Admin connected as the options say (and closed after)."""

    async def run(args: argparse.Namespace) -> int:
        from engine.admin import Admin

        admin = await Admin.connect(args.dsn, direct_dsn=args.direct_dsn, pool_mode=args.pool_mode)
        try:
            return await command(admin, args)
        finally:
            await admin.close()

    return run
