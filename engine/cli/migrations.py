"""`pqw migrate up|down|status`: the schema, applied, reverted or shown (--json for scripts)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli import output
from engine.cli.options import add_dsn_option, database_of
from engine.cli.parsing import add_command
from engine.db import migrate
from engine.db.dsn import describe_dsn
from engine.db.pool import connect


async def cmd_migrate(args: argparse.Namespace) -> int:
    database = database_of(args)
    conn = await connect(database.migration_url)
    try:
        where = describe_dsn(database.migration_url)
        if args.action == "status":
            rows = await migrate.status(conn)
            if args.json:
                return output.print_json({"database": where, "migrations": rows})
            print(f"{where}:")
            for row in rows:
                when = (
                    f"applied {row.applied_at:%Y-%m-%d %H:%M:%S%z}" if row.applied_at else "pending"
                )
                print(f"  {row.version:03d}_{row.name:<28} {when}")
            return output.OK
        if args.action == "up":
            done = await migrate.migrate_up(conn, args.target)
        else:
            done = await migrate.migrate_down(conn, 0 if args.target is None else args.target)
    finally:
        await conn.close()
    if args.json:
        changed = [{"version": m.version, "name": m.name} for m in done]
        return output.print_json({"database": where, "action": args.action, "migrations": changed})
    verb = "applied" if args.action == "up" else "reverted"
    if not done:
        if args.action == "up":
            print(f"{where}: already up to date (version {migrate.latest_version()})")
        else:
            print(f"{where}: nothing to revert")
    for m in done:
        print(f"{where}: {verb} {m.version:03d}_{m.name}")
    return output.OK


def configure(commands: Any) -> None:
    p = add_command(
        commands,
        "migrate",
        help="apply, revert or show schema migrations",
        examples=["pqw migrate up", "pqw migrate status --json", "pqw migrate down --target 5"],
        run=cmd_migrate,
    )
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--target", type=int, help="stop at this version (down: keep it)")
    add_dsn_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")
