"""`pqw periodic list|enable|disable|delete|run`: periodic schedules from the shell."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from engine.cli import output
from engine.cli.options import add_operator_options, with_admin
from engine.cli.parsing import add_actions, add_command

if TYPE_CHECKING:
    from engine.admin import Admin

DONE = {
    "enable": "enabled",
    "disable": "disabled",
    "delete": "deleted",
    "run": "due now: the leader inserts its job within a second",
}


async def list_schedules(admin: Admin, args: argparse.Namespace) -> int:
    schedules = await admin.list_periodic_jobs()
    if args.json:
        return output.print_json([output.document(p) | {"note": p.note} for p in schedules])
    rows = [
        (
            p.id,
            p.kind,
            p.schedule,
            "enabled" if p.enabled else "disabled",
            output.ago(p.next_run_at),
            output.ago(p.last_run_at),
            p.note,
        )
        for p in schedules
    ]
    headers = ("ID", "KIND", "SCHEDULE", "STATE", "NEXT", "LAST", "NOTE")
    return output.print_table(headers, rows, "no periodic schedules")


async def change_schedule(admin: Admin, args: argparse.Namespace) -> int:
    verb = "run_periodic_now" if args.action == "run" else f"{args.action}_periodic"
    await getattr(admin, verb)(args.id)
    if args.json:
        return output.print_json({"id": args.id, "action": args.action})
    print(f"{output.clean(args.id)}: {DONE[args.action]}")
    return output.OK


def configure(commands: Any) -> None:
    group = add_command(
        commands,
        "periodic",
        help="list, enable, disable, delete or run now periodic schedules",
        examples=["pqw periodic list", "pqw periodic run report.build"],
    )
    actions = add_actions(group)
    p = add_command(
        actions,
        "list",
        help="every schedule with its next and last run",
        examples=["pqw periodic list", "pqw periodic list --json"],
        run=with_admin(list_schedules),
    )
    add_operator_options(p)
    for action, what in (
        ("enable", "the schedule runs again at its next time"),
        ("disable", "the schedule inserts no job until enabled"),
        ("delete", "remove a schedule no code defines any more"),
        ("run", "make the schedule due now (then it goes on as before)"),
    ):
        p = add_command(
            actions,
            action,
            help=what,
            examples=[
                f"pqw periodic {action} report.build",
                f"pqw periodic {action} nightly --json",
            ],
            run=with_admin(change_schedule),
        )
        p.add_argument("id", metavar="ID")
        add_operator_options(p)
