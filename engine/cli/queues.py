"""`pqw queues list|pause|resume|scale` (alias `pqw queue ...`): queues from the shell."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.admin.admin import MAX_CONCURRENCY as MAX_SLOTS
from engine.cli import output
from engine.cli.options import add_operator_options, with_admin
from engine.cli.parsing import add_actions, add_command, whole_number
from engine.types import JobState

if TYPE_CHECKING:
    from engine.admin import Admin, QueueCounts

SHOWN_STATES = (JobState.AVAILABLE, JobState.SCHEDULED, JobState.RUNNING, JobState.RETRYABLE)


def unknown_queue_note(name: str, known: Sequence[str]) -> str:
    """What to say when a queue nobody knows was paused: fine ahead of its first job, or a typo."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"pqw: note: queue {name!r} has no jobs and no live client works it: it stays paused "
        f"for jobs to come (`pqw queues resume {name}` removes it){hint}"
    )


def queue_document(q: QueueCounts) -> dict[str, Any]:
    return {
        "queue": q.queue,
        "paused": q.paused,
        "concurrency": q.concurrency,
        "counts": {s.value: q.counts.get(s, 0) for s in JobState},
        "total": q.total,
        "latency": q.latency,
        "oldest_available_at": q.oldest_available_at,
        "completed_recently": q.completed_recently,
        "failed_recently": q.failed_recently,
        "failure_rate": q.failure_rate,
    }


async def list_queues(admin: Admin, args: argparse.Namespace) -> int:
    queues = await admin.queue_state_counts()
    if args.json:
        return output.print_json([queue_document(q) for q in queues])
    rows = [
        (
            q.queue,
            "paused" if q.paused else "active",
            q.concurrency if q.concurrency is not None else "code",
            *(f"{q.counts.get(s, 0):,}" for s in SHOWN_STATES),
            output.seconds(q.latency) if q.latency is not None else None,
            f"{q.failure_rate:.0%}" if q.failure_rate is not None else None,
        )
        for q in queues
    ]
    headers = ("QUEUE", "STATE", "SLOTS", *(s.value.upper() for s in SHOWN_STATES))
    return output.print_table([*headers, "WAITED", "FAILING"], rows, "no queues")


async def pause_queue(admin: Admin, args: argparse.Namespace) -> int:
    known = [q.queue for q in await admin.queue_state_counts()]
    await admin.pause_queue(args.name)
    if args.name not in known:
        print(unknown_queue_note(args.name, known), file=sys.stderr)
    if args.json:
        return output.print_json({"queue": args.name, "paused": True, "known": args.name in known})
    print(f"queue {args.name} paused: clients stop fetching from it within a second")
    return output.OK


async def resume_queue(admin: Admin, args: argparse.Namespace) -> int:
    await admin.resume_queue(args.name)
    if args.json:
        return output.print_json({"queue": args.name, "paused": False})
    print(f"queue {args.name} resumed")
    return output.OK


async def scale_queue(admin: Admin, args: argparse.Namespace) -> int:
    await admin.set_queue_concurrency(args.name, args.slots)
    if args.json:
        return output.print_json({"queue": args.name, "concurrency": args.slots})
    if args.slots is None:
        print(f"queue {args.name}: back to each client's own concurrency, from its code")
    else:
        print(f"queue {args.name}: {args.slots} slots on each client working it, within a second")
    return output.OK


def configure(commands: Any) -> None:
    group = add_command(
        commands,
        "queues",
        aliases=["queue"],
        help="list queues, pause or resume one, or set its slots per client",
        examples=["pqw queues list", "pqw queues pause mail", "pqw queues scale mail 20"],
    )
    actions = add_actions(group)
    p = add_command(
        actions,
        "list",
        help="every queue with its jobs per state, pause, slots, wait and failures",
        examples=["pqw queues list", "pqw queues list --json"],
        run=with_admin(list_queues),
    )
    add_operator_options(p)
    for action, what, command in (
        ("pause", "clients stop fetching from the queue; running jobs finish", pause_queue),
        ("resume", "clients fetch from the queue again", resume_queue),
    ):
        p = add_command(
            actions,
            action,
            help=what,
            examples=[f"pqw queues {action} mail", f"pqw queue {action} mail --json"],
            run=with_admin(command),
        )
        p.add_argument("name", metavar="NAME")
        add_operator_options(p)
    p = add_command(
        actions,
        "scale",
        help="slots per client for the queue, live (no N: back to each client's own)",
        examples=["pqw queues scale mail 20", "pqw queues scale mail 0", "pqw queues scale mail"],
        run=with_admin(scale_queue),
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("slots", nargs="?", type=whole_number(0, MAX_SLOTS), metavar="N")
    add_operator_options(p)
