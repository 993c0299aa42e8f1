"""`pqw migrate up|down|status`: the schema, applied, reverted or shown (--json for scripts).

`down` with no --target (or --target 0) reverts every migration, dropping the whole pqw
schema with its jobs, workers and schedules, so it asks first (or takes --yes), like the
other commands that cannot be undone; a down to a version kept goes ahead as asked.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli import output
from engine.cli.options import add_dsn_option, database_of
from engine.cli.parsing import add_command
from engine.db import migrate
from engine.db.dsn import describe_dsn
from engine.db.pool import Conn, connect


def _bad_target(args: argparse.Namespace) -> str | None:
    """Why --target cannot be used (checked before connecting: nothing changes), or None."""
    if args.target is None:
        return None
    if args.action == "status":
        return "--target is for up and down, not status"
    known = [m.version for m in migrate.load_migrations()]
    if args.target in known or (args.action == "down" and args.target == 0):
        return None
    versions = ", ".join(str(v) for v in known)
    zero = " (or 0 for down: revert them all)" if args.action == "down" else ""
    return f"no migration with version {args.target}: the known versions are {versions}{zero}"


async def _confirm_down(conn: Conn, args: argparse.Namespace, where: str) -> int | None:
    """Reverting every migration drops all of pqw's data: ask, naming what goes."""
    if args.target:
        return None
    applied = await migrate.applied_versions(conn)
    going = [m for m in reversed(migrate.load_migrations()) if m.version in applied]
    if not going:
        return None
    names = ", ".join(f"{m.version:03d}_{m.name}" for m in going)
    question = (
        f"revert all {output.plural(len(going), 'migration')} ({names}) in {where},"
        " dropping the pqw schema with every job, worker and schedule?"
    )
    return await output.confirm("migrate down", question, yes=args.yes)


async def cmd_migrate(args: argparse.Namespace) -> int:
    bad = _bad_target(args)
    if bad:
        return output.usage("migrate", bad)
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
            answer = await _confirm_down(conn, args, where)
            if answer is not None:
                return answer
            done = await migrate.migrate_down(conn, args.target or 0)
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
        examples=[
            "pqw migrate up",
            "pqw migrate status --json",
            "pqw migrate down --target 5   # reverts the migrations newer than 5",
            "pqw migrate down --yes        # reverts them all: drops every job",
        ],
        run=cmd_migrate,
    )
    p.add_argument(
        "action",
        choices=["up", "down", "status"],
        help="up: apply pending migrations; down: revert applied ones; status: list them",
    )
    p.add_argument(
        "--target",
        type=int,
        metavar="N",
        help="a migration version (see status). up: apply up to N (default: all); down: "
        "revert the migrations newer than N, keeping N (no --target or 0: revert all, "
        "dropping every job, worker and schedule; asks first unless --yes)",
    )
    p.add_argument(
        "--yes", action="store_true", help="down to 0: revert all without asking (for scripts)"
    )
    add_dsn_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")
