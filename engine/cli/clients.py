"""`pqw clients list [--all]`: the clients (worker processes) the database knows of."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from engine.cli import output
from engine.cli.options import add_operator_options, with_admin
from engine.cli.parsing import add_actions, add_command

if TYPE_CHECKING:
    from engine.admin import Admin


async def list_clients(admin: Admin, args: argparse.Namespace) -> int:
    clients = await admin.list_clients(include_stopped=args.all)
    if not args.all:
        # Not stopped is not live: one killed (no stop) is kept, marked lost, for --all.
        clients = [c for c in clients if c.alive]
    if args.json:
        return output.print_json(clients)
    rows = [
        (
            c.id,
            f"{c.host}:{c.pid}",
            "alive" if c.alive else ("stopped" if c.stopped_at else "gone"),
            "leader" if c.is_leader else "",
            ",".join(f"{q}={n}" for q, n in sorted(c.queues.items())),
            len(c.persistent),
            output.ago(c.heartbeat_at),
            output.ago(c.started_at),
            c.version,
        )
        for c in clients
    ]
    headers = ("ID", "WHERE", "STATE", "LEADER", "QUEUES", "WORKERS", "HEARTBEAT", "STARTED")
    return output.print_table([*headers, "VERSION"], rows, "no live clients")


def configure(commands: Any) -> None:
    group = add_command(
        commands,
        "clients",
        help="the clients (worker processes) working this database",
        examples=["pqw clients list", "pqw clients list --all --json"],
    )
    actions = add_actions(group)
    p = add_command(
        actions,
        "list",
        help="the live clients (--all: the stopped and lost ones kept too)",
        examples=["pqw clients list", "pqw clients list --all --json"],
        run=with_admin(list_clients),
    )
    p.add_argument("--all", action="store_true", help="the stopped and lost clients too")
    add_operator_options(p)
