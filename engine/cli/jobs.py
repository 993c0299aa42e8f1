"""`pqw jobs list|show|retry|cancel|delete`: jobs from the shell, one or many at a time.

Many at a time (`--filter`) goes through Admin's bounded bulk batches, after saying how
many jobs match and asking (unless --yes); jobs inserted after the question are left alone.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from engine.admin.guard import BIGINT, LIMIT_MAX
from engine.cli import output
from engine.cli.options import add_operator_options, with_admin
from engine.cli.parsing import add_actions, add_command, whole_number
from engine.db.storable import json_problem
from engine.errors import InvalidJobOption, NotFound
from engine.types import Job, JobState

if TYPE_CHECKING:
    from engine.admin import Admin, JobQuery

# Postgres stores --args as jsonb: what it cannot store is told before anything is sent.
ARGS_MAX_BYTES = 64 * 1024
PAST = {"retry": "retried", "cancel": "cancelled", "delete": "deleted"}


def _job_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a job id: {text!r}") from None
    if value < 1 or value not in BIGINT:
        raise argparse.ArgumentTypeError(f"not a job id: {text!r}")
    return value


def _args_filter(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise argparse.ArgumentTypeError(f"not JSON: {text[:80]!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f'must be a JSON object, like \'{{"to": "ana"}}\', not {text[:80]!r}'
        )
    problem = json_problem(json.dumps(value, ensure_ascii=False), ARGS_MAX_BYTES)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    states = [s.value for s in JobState]
    parser.add_argument(
        "--state",
        action="append",
        choices=states,
        metavar="STATE",
        help=f"only jobs in this state (again for more): {', '.join(states)}",
    )
    parser.add_argument("--queue", help="only jobs of this queue")
    parser.add_argument("--kind", help='only jobs of this kind ("email.*": every kind it starts)')
    parser.add_argument(
        "--args", type=_args_filter, metavar="JSON", help="only jobs whose args hold this object"
    )


def query_of(args: argparse.Namespace) -> JobQuery:
    from engine.admin import JobQuery

    states = tuple(JobState(s) for s in dict.fromkeys(args.state or ()))
    return JobQuery(queue=args.queue, states=states, kind=args.kind, args=args.args)


async def list_jobs(admin: Admin, args: argparse.Namespace) -> int:
    jobs = await admin.search_jobs(query_of(args), before_id=args.before, limit=args.limit)
    if args.json:
        return output.print_json(jobs)
    rows = [
        (
            j.id,
            j.state,
            j.queue,
            j.kind,
            f"{j.attempt}/{j.max_attempts}",
            output.ago(j.created_at),
            output.compact(j.args),
        )
        for j in jobs
    ]
    headers = ("ID", "STATE", "QUEUE", "KIND", "ATTEMPT", "CREATED", "ARGS")
    return output.print_table(headers, rows, "no jobs match")


def _when(label: str, at: Any) -> str:
    return f"{label:<11} {output.ago(at)} ({at:%Y-%m-%d %H:%M:%S%z})" if at else f"{label:<11} -"


async def show_job(admin: Admin, args: argparse.Namespace) -> int:
    job = await admin.get_job(args.id)
    if args.json:
        return output.print_json(job)
    c = output.clean
    lines = [
        f"job {job.id}  {c(job.kind)}  in queue {c(job.queue)}",
        f"{'state':<11} {job.state} (attempt {job.attempt} of {job.max_attempts})",
        f"{'priority':<11} {job.priority}",
        f"{'args':<11} {c(output.compact(job.args))}",
        f"{'metadata':<11} {c(output.compact(job.metadata))}",
        f"{'tags':<11} {c(', '.join(job.tags)) or '-'}",
        _when("created", job.created_at),
        _when("scheduled", job.scheduled_at),
        _when("attempted", job.attempted_at),
        _when("heartbeat", job.heartbeat_at),
        _when("finalized", job.finalized_at),
        f"{'ran on':<11} {c(', '.join(job.attempted_by)) or '-'}",
    ]
    for error in job.errors:
        lines.append(
            f"error #{error.get('attempt', '?')} at {error.get('at', '?')}: "
            f"{c(error.get('error', ''))}"
        )
    if job.errors and job.errors[-1].get("trace"):
        # A trace holds what the handler's exception said: its lines kept, escapes shown.
        lines.extend(c(line) for line in str(job.errors[-1]["trace"]).rstrip().splitlines())
    print("\n".join(lines))
    return output.OK


async def list_failures(admin: Admin, args: argparse.Namespace) -> int:
    groups = await admin.failure_groups(args.queue)
    if args.json:
        return output.print_json(groups)
    rows = [
        (
            g.jobs,
            g.retryable,
            g.discarded,
            g.kind,
            ",".join(g.queues),
            output.ago(g.last_failed_at),
            g.newest_id,
            g.error,
        )
        for g in groups
    ]
    headers = ("JOBS", "RETRYABLE", "DISCARDED", "KIND", "QUEUES", "LAST", "NEWEST", "ERROR")
    return output.print_table(headers, rows, "no failed jobs")


ONE: dict[str, Callable[[Admin, int], Awaitable[Job]]] = {
    "retry": lambda admin, job_id: admin.retry_job(job_id),
    "cancel": lambda admin, job_id: admin.cancel_job(job_id),
    "delete": lambda admin, job_id: admin.delete_job(job_id),
}


def _outcome(action: str, job: Job) -> str:
    if action == "delete":
        return f"job {job.id}: deleted"
    if action == "cancel" and job.state is JobState.RUNNING:
        return f"job {job.id}: running, its client is told to cancel it"
    if action == "cancel" and job.state is not JobState.CANCELLED:
        return f"job {job.id}: already {job.state}, nothing to cancel"
    return f"job {job.id}: {PAST[action]} (now {job.state})"


async def act_on_ids(admin: Admin, args: argparse.Namespace) -> int:
    """Each job named, one by one: each refusal says why, the others are still done."""
    done: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for job_id in dict.fromkeys(args.ids):
        try:
            job = await ONE[args.action](admin, job_id)
        except (NotFound, InvalidJobOption) as exc:
            refused.append({"id": job_id, "error": str(exc)})
            continue
        done.append({"id": job.id, "state": job.state, "message": _outcome(args.action, job)})
    if args.json:
        output.print_json({"action": args.action, "done": done, "refused": refused})
    else:
        for d in done:
            print(d["message"])
    for r in refused:
        output.refused(r["error"])
    return output.FAILED if refused else output.OK


async def act_on_filter(admin: Admin, args: argparse.Namespace) -> int:
    """Every job the filter matches, in Admin's bounded batches, after asking."""
    query = query_of(args)
    # The newest match first: the jobs acted on are those below it, so one inserted
    # after the question is left alone.
    newest = await admin.search_jobs(query, limit=1)
    count = await admin.count_jobs(query)
    result: dict[str, Any] = {"action": args.action, "matched": count.n, "acted": 0, "skipped": 0}
    if not newest:
        if args.json:
            return output.print_json(result | {"matched": 0})
        print("no jobs match: nothing changed")
        return output.OK
    many = output.plural(count.n, "job")
    many = many if count.exact else f"at least {many}"
    answer = await output.confirm(f"jobs {args.action}", f"{args.action} {many}?", yes=args.yes)
    if answer is not None:
        return answer
    below: int | None = newest[0].id + 1
    while below is not None:
        step = await admin.bulk_step(args.action, query=query, below=below)
        result["acted"] += step.acted
        result["skipped"] += step.skipped
        below = step.next_below
    if args.json:
        return output.print_json(result)
    skipped = result["skipped"]
    note = f"; {skipped} left alone (running, held by a worker, or a unique key taken)"
    done = output.plural(result["acted"], "job")
    print(f"{done} {PAST[args.action]}{note if skipped else ''}")
    return output.OK


async def act(admin: Admin, args: argparse.Namespace) -> int:
    return await (act_on_filter if args.filter else act_on_ids)(admin, args)


def check_act(args: argparse.Namespace) -> int | None:
    """The usage error of an action called with neither ids nor --filter (or both)."""
    command = f"jobs {args.action}"
    narrowed = args.state or args.queue or args.kind or args.args is not None
    if args.filter and args.ids:
        return output.usage(command, "give job ids or --filter, not both")
    if narrowed and not args.filter:
        return output.usage(command, "the filter options need --filter (ids are acted on as given)")
    if not args.filter and not args.ids:
        return output.usage(command, "give the job ids, or --filter with the filter options")
    return None


def configure(commands: Any) -> None:
    group = add_command(
        commands,
        "jobs",
        help="list, show, retry, cancel or delete jobs",
        examples=[
            "pqw jobs list --state discarded --queue mail",
            "pqw jobs show 42",
            "pqw jobs retry --filter --state discarded --kind email.send --yes",
        ],
    )
    actions = add_actions(group)
    p = add_command(
        actions,
        "list",
        help="the newest jobs, filtered",
        examples=[
            "pqw jobs list --state retryable --state discarded --limit 20",
            """pqw jobs list --kind 'email.*' --args '{"to": "ana@example.com"}' --json""",
        ],
        run=with_admin(list_jobs),
    )
    add_filter_options(p)
    p.add_argument(
        "--limit", type=whole_number(1, LIMIT_MAX), default=50, help="how many jobs (default 50)"
    )
    p.add_argument("--before", type=_job_id, metavar="ID", help="the page below this job id")
    add_operator_options(p)
    p = add_command(
        actions,
        "show",
        help="one job: its args, attempts and errors",
        examples=["pqw jobs show 42", "pqw jobs show 42 --json"],
        run=with_admin(show_job),
    )
    p.add_argument("id", type=_job_id, metavar="ID")
    add_operator_options(p)
    p = add_command(
        actions,
        "failures",
        help="failed jobs (retryable and discarded) grouped by kind and last error",
        examples=["pqw jobs failures", "pqw jobs failures --queue mail --json"],
        run=with_admin(list_failures),
    )
    p.add_argument("--queue", help="only failures of this queue")
    add_operator_options(p)
    for action, what in (
        ("retry", "make jobs available to run again now (not running ones)"),
        ("cancel", "cancel jobs (a running one is told to stop)"),
        ("delete", "delete jobs that are not running"),
    ):
        p = add_command(
            actions,
            action,
            help=what,
            examples=[
                f"pqw jobs {action} 42 43",
                f"pqw jobs {action} --filter --queue mail --state retryable",
                f"pqw jobs {action} --filter --kind report.build --yes --json",
            ],
            run=_checked(with_admin(act)),
        )
        p.add_argument("ids", nargs="*", type=_job_id, metavar="ID")
        p.add_argument("--filter", action="store_true", help="every job the filter options match")
        add_filter_options(p)
        p.add_argument("--yes", action="store_true", help="do it without asking")
        add_operator_options(p)


def _checked(run: Callable[[argparse.Namespace], Awaitable[int]]) -> Any:
    async def checked(args: argparse.Namespace) -> int:
        problem = check_act(args)
        return problem if problem is not None else await run(args)

    return checked
