"""The options every pqw command takes to find its database."""

from __future__ import annotations

import argparse

from engine.db.dsn import POOL_MODES, Database, resolve_database


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
