"""What the soak proves, read from the database and the ledger once it has settled.

Each check adds the problems it finds (an empty list is a pass) and the figures
the report prints. Every check is a property of what happened, never a timing,
except the documented failover bound of a persistent worker after a kill.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from engine.schedules import every
from tests.chaos.cluster import Cluster
from tests.chaos.faults import Log
from tests.chaos.producer import ABSENT, DUPLICATE, INSERTED, UNCERTAIN, Record
from tests.workers.chaos import (
    JOB_HEARTBEAT_TIMEOUT,
    PERSISTENT_INTERVAL,
    PERSISTENT_TIMEOUT,
    PERSISTENT_WORKERS,
)

FINAL = ("completed", "cancelled", "discarded")
PRODUCED_KINDS = ("chaos.work", "chaos.unique")
# Failover bound after a kill: the run's heartbeat timeout (the rescuer may take
# it back only then), plus what follows, each bounded: a rescuer pass, a
# scheduler pass and a fetch poll (0.1 + 0.1 + 0.2 s with these settings), the
# claim and the handler's first beat, on a loaded 2-core machine; a killed
# leader costs nothing extra, as its lease (2 s) runs out before the run's
# heartbeat timeout (3 s). Measured: see the README's chaos section.
FAILOVER_MARGIN = 3.0
FAILOVER_BOUND = PERSISTENT_TIMEOUT + FAILOVER_MARGIN


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def figure(self, name: str, value: Any) -> None:
        self.figures[name] = value


def _entries(errors: Any) -> list[dict[str, Any]]:
    return [e for e in (errors or []) if isinstance(e, dict)]


def _rescue_of(entry: dict[str, Any]) -> str | None:
    """The client a rescue entry names, or None for an entry that is not a rescue."""
    text = str(entry.get("error", ""))
    if not text.startswith("rescued: client "):
        return None
    return text.removeprefix("rescued: client ").split(" ", 1)[0]


async def check_jobs(db: asyncpg.Connection[Any], record: Record, report: Report) -> None:
    """Every committed insert is one job, final and completed; nothing else was inserted."""
    rows = await db.fetch(
        "SELECT id, kind, state::text AS state, args, errors FROM pqw_job "
        "WHERE kind = ANY($1::text[])",
        list(PRODUCED_KINDS),
    )
    by_n: dict[int, asyncpg.Record] = {}
    for row in rows:
        n = int(row["args"]["n"])
        if n in by_n:
            report.problem(f"n={n} was inserted twice: jobs {by_n[n]['id']} and {row['id']}")
        by_n[n] = row
    committed = 0
    for n, status in record.status.items():
        row = by_n.get(n)
        if status == INSERTED:
            if row is None:
                report.problem(f"job {record.job_ids[n]} (n={n}) was lost")
                continue
            if row["id"] != record.job_ids[n]:
                report.problem(f"n={n} is job {row['id']}, inserted as {record.job_ids[n]}")
        elif status in (DUPLICATE, ABSENT):
            if row is not None:
                report.problem(f"n={n} ({status}) left job {row['id']} ({row['state']})")
            continue
        elif status == UNCERTAIN and row is None:
            continue
        committed += 1
        assert row is not None
        if row["state"] != "completed":
            report.problem(f"job {row['id']} (n={n}) ended {row['state']}: {row['errors']}")
    for n, row in by_n.items():
        if n not in record.status:
            report.problem(f"job {row['id']} (n={n}) was never inserted by the producer")
    unexpected = [
        (row["id"], e["error"])
        for row in rows
        for e in _entries(row["errors"])
        if _rescue_of(e) is None and not str(e.get("error", "")).startswith("DesignedFailure")
    ]
    for job_id, error in unexpected[:10]:
        report.problem(f"job {job_id} failed unexpectedly: {error[:300]}")
    report.figure("jobs inserted (committed)", committed)
    report.figure("inserts uncertain (connection lost)", record.count(UNCERTAIN))
    report.figure("of which committed", sum(1 for n, s in record.status.items()
                                             if s == UNCERTAIN and n in by_n))  # fmt: skip
    report.figure("unique duplicates refused", record.count(DUPLICATE))
    report.figure("transactions", dict(record.transactions))
    report.figure("left nothing (rolled back or broken)", record.count(ABSENT))


async def check_nothing_stuck(db: asyncpg.Connection[Any], watermark: int, report: Report) -> None:
    """Every job inserted before the settle began is final (persistent runs excepted)."""
    stuck = await db.fetch(
        "SELECT id, kind, state::text AS state FROM pqw_job "
        "WHERE id <= $1 AND NOT starts_with(kind, 'pqw.') AND state::text <> ALL($2::text[])",
        watermark,
        list(FINAL),
    )
    for row in stuck[:10]:
        report.problem(f"job {row['id']} ({row['kind']}) is still {row['state']}")
    live = await db.fetch(
        "SELECT kind, count(*) AS n FROM pqw_job WHERE starts_with(kind, 'pqw.persistent:') "
        "AND state::text <> ALL($1::text[]) GROUP BY kind",
        list(FINAL),
    )
    for row in live:
        if row["n"] != 1:
            report.problem(f"{row['kind']} has {row['n']} live runs")
    report.figure("jobs completed", await db.fetchval(
        "SELECT count(*) FROM pqw_job WHERE state = 'completed'"))  # fmt: skip


async def check_executions(db: asyncpg.Connection[Any], cluster: Cluster, report: Report) -> None:
    """Each execution the database holds no outcome for belongs to an attempt that was
    rescued from a client that was killed or frozen; every other one is recorded once."""
    clients = {r["id"]: r["pid"] for r in await db.fetch("SELECT id, pid FROM pqw_client")}
    executions: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for row in await db.fetch("SELECT * FROM chaos_execution ORDER BY id"):
        executions[row["job_id"]].append(row)
    jobs = {
        r["id"]: r
        for r in await db.fetch(
            "SELECT id, kind, state::text AS state, errors, metadata FROM pqw_job "
            "WHERE id = ANY($1::bigint[])",
            list(executions),
        )
    }
    duplicates: dict[str, int] = defaultdict(int)
    rescues_without_execution = 0
    for job_id, runs in executions.items():
        job = jobs.get(job_id)
        if job is None:
            report.problem(f"job {job_id} ran ({len(runs)}x) but does not exist")
            continue
        if job["state"] not in FINAL:
            continue  # inserted after the settle began (a tick, a recipe run): under way
        entries = _entries(job["errors"])
        rescued = {
            int(e["attempt"]): (client, datetime.fromisoformat(e["at"]))
            for e in entries
            if (client := _rescue_of(e)) is not None
        }
        keys = defaultdict(set)
        for run in runs:
            keys[(run["attempt"], run["snoozes"])].add(run["pid"])
        for (attempt, snoozes), pids in keys.items():
            if len(pids) > 1:
                report.problem(f"job {job_id} attempt {attempt}/{snoozes} ran on pids {pids}")
        final_snoozes = int(job["metadata"].get("snoozes", 0))
        rescued_keys: dict[tuple[int, int], int] = {}
        for attempt in rescued:
            # Only an error or a rescue moves a job to its next attempt, and snoozes
            # carry over: the rescued fetch is the last of its attempt, whose snoozes
            # are those the next attempt starts with.
            later = [r["snoozes"] for r in runs if r["attempt"] > attempt]
            rescued_keys[(attempt, min(later, default=final_snoozes))] = attempt
        rescues_without_execution += len(set(rescued_keys) - set(keys))
        for run in runs:
            if (run["attempt"], run["snoozes"]) not in rescued_keys:
                continue
            client, rescued_at = rescued[run["attempt"]]
            pid = clients.get(client)
            why = None
            if pid is not None:
                # No heartbeat of that client for a heartbeat timeout before the rescue.
                since = rescued_at - timedelta(seconds=JOB_HEARTBEAT_TIMEOUT)
                why = cluster.faulted_during(pid, since, rescued_at)
            if why is None:
                report.problem(
                    f"job {job_id} ({job['kind']}) attempt {run['attempt']} ran on pid "
                    f"{run['pid']} and was rescued from client {client} (pid {pid}) at "
                    f"{rescued_at.isoformat()}, which was neither killed nor frozen"
                )
            else:
                duplicates[why.split(" ", 1)[0]] += 1
        # Every other execution left exactly one outcome: an error, a snooze, the end.
        recorded = (
            sum(1 for e in entries if _rescue_of(e) is None)
            + final_snoozes
            + (1 if job["state"] == "completed" else 0)
        )
        unaccounted = set(keys) - set(rescued_keys)
        if len(unaccounted) != recorded:
            report.problem(
                f"job {job_id} ({job['kind']}, {job['state']}): {len(unaccounted)} executions "
                f"whose outcome should be recorded, {recorded} outcomes recorded: {entries}"
            )
    report.figure("executions", sum(len(r) for r in executions.values()))
    report.figure("duplicate executions (by cause)", dict(duplicates))
    report.figure("rescued attempts that never ran (fetch reply lost)", rescues_without_execution)


async def check_schedule_kept(db: asyncpg.Connection[Any], record: Record, report: Report) -> None:
    """No scheduled job ran before its time (the database's clock is this machine's)."""
    early = await db.fetch(
        "SELECT e.job_id, min(e.started_at) AS first, n.not_before FROM chaos_execution e "
        "JOIN unnest($1::bigint[], $2::timestamptz[]) AS n(job_id, not_before) "
        "ON n.job_id = e.job_id GROUP BY e.job_id, n.not_before "
        "HAVING min(e.started_at) < n.not_before",
        [record.job_ids[n] for n in record.not_before if n in record.job_ids],
        [at for n, at in record.not_before.items() if n in record.job_ids],
    )
    for row in early[:10]:
        report.problem(
            f"job {row['job_id']} ran at {row['first'].isoformat()}, "
            f"scheduled for {row['not_before'].isoformat()}"
        )
    report.figure("scheduled jobs", len(record.not_before))


async def check_ticks(db: asyncpg.Connection[Any], report: Report) -> None:
    """The schedule without unique options: one job per scheduled time, none missed
    except as documented (missed times are caught up once: the run after a late tick
    is the first one after that tick's insert)."""
    schedule = every(1)
    rows = await db.fetch(
        "SELECT id, created_at, (metadata->>'scheduled_for')::timestamptz AS due, "
        "state::text AS state FROM pqw_job WHERE kind = 'chaos.tick' ORDER BY due, id"
    )
    dues = [r["due"] for r in rows]
    if len(set(dues)) != len(dues):
        doubled = sorted({d for d in dues if dues.count(d) > 1})
        report.problem(f"scheduled times inserted twice: {[d.isoformat() for d in doubled[:5]]}")
    caught_up = 0
    for before, after in itertools.pairwise(rows):
        expected = schedule.next_after(max(before["created_at"], before["due"]))
        if after["due"] != expected and after["due"] != before["due"]:
            report.problem(
                f"tick after {before['due'].isoformat()} (inserted "
                f"{before['created_at'].isoformat()}) was {after['due'].isoformat()}, "
                f"expected {expected.isoformat()}"
            )
        caught_up += max(0, round((after["due"] - before["due"]).total_seconds()) - 1)
    report.figure("ticks (one per scheduled time)", len(rows))
    report.figure("tick times caught up (skipped while no leader could insert)", caught_up)


async def check_persistent(
    db: asyncpg.Connection[Any], log: Log, cluster: Cluster, report: Report
) -> None:
    """Runs of a worker never overlap by more than one heartbeat interval (by the time of
    the `ctx.stopping` check that allowed each unit of work), and after each kill the
    worker works again within FAILOVER_BOUND."""
    rows = await db.fetch(
        "SELECT r.id, r.worker, r.pid, r.ended_at, min(b.checked_at) AS first, "
        "max(b.checked_at) AS last, max(b.at) AS last_write, "
        "max(b.at - b.checked_at) AS write_lag "
        "FROM chaos_run r JOIN chaos_beat b ON b.run_id = r.id "
        "GROUP BY r.id ORDER BY r.worker, first"
    )
    runs: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        runs[row["worker"]].append(row)
    worst_overlap = 0.0
    for worker in PERSISTENT_WORKERS:
        latest: asyncpg.Record | None = None
        for run in runs[worker]:
            if latest is not None:
                overlap = (latest["last"] - run["first"]).total_seconds()
                worst_overlap = max(worst_overlap, overlap)
                if overlap > PERSISTENT_INTERVAL:
                    report.problem(
                        f"{worker}: run {run['id']} (pid {run['pid']}) began work "
                        f"{overlap:.2f}s before run {latest['id']} (pid {latest['pid']}) last did"
                    )
            if latest is None or run["last"] > latest["last"]:
                latest = run
    report.figure("persistent runs", {w: len(runs[w]) for w in PERSISTENT_WORKERS})
    report.figure("longest overlap of two runs (s)", round(worst_overlap, 3))
    lags = [r["write_lag"].total_seconds() for r in rows]
    report.figure("longest ledger write after its check (s)", round(max(lags, default=0.0), 3))

    failovers: list[float] = []
    for pid, killed_at in log.kills:
        for worker in PERSISTENT_WORKERS:
            before = [r for r in runs[worker] if r["first"] <= killed_at]
            if not before or before[-1]["pid"] != pid:
                continue  # the victim was not running this worker
            after = [r for r in runs[worker] if r["first"] > killed_at]
            if not after:
                report.problem(f"{worker} never ran again after pid {pid} was killed")
                continue
            took = (after[0]["first"] - killed_at).total_seconds()
            failovers.append(took)
            if took > FAILOVER_BOUND:
                report.problem(
                    f"{worker} ran again {took:.2f}s after pid {pid} was killed at "
                    f"{killed_at.isoformat()} (bound {FAILOVER_BOUND:g}s)"
                )
    report.figure("failovers after a kill", len(failovers))
    report.figure("longest failover after a kill (s)", round(max(failovers, default=0.0), 2))
    if failovers:
        ranked = sorted(failovers)
        report.figure(
            "failover after a kill, median / 95th percentile (s)",
            f"{ranked[len(ranked) // 2]:.2f} / {ranked[int(len(ranked) * 0.95)]:.2f}",
        )
    thawed: list[float] = []
    for member in cluster.members:
        for began, _ in member.freezes:
            for worker in PERSISTENT_WORKERS:
                before = [r for r in runs[worker] if r["first"] <= began]
                after = [r for r in runs[worker] if r["first"] > began]
                if before and before[-1]["pid"] == member.pid and after:
                    thawed.append((after[0]["first"] - began).total_seconds())
    report.figure("longest failover from a frozen runner (s)", round(max(thawed, default=0.0), 2))


async def check_leader(db: asyncpg.Connection[Any], since: datetime, report: Report) -> None:
    marks = [r["at"] for r in await db.fetch(
        "SELECT at FROM chaos_leader WHERE at >= $1 ORDER BY at", since)]  # fmt: skip
    gaps = [((b - a).total_seconds(), a) for a, b in itertools.pairwise(marks)]
    report.figure("leader passes", len(marks))
    longest, after = max(gaps, default=(0.0, since))
    report.figure("longest leader gap (s)", f"{longest:.2f} after {after.time().isoformat()}")


def check_faults(log: Log, report: Report) -> None:
    for what in log.gate_timeouts:
        report.problem(f"the persistent workers did not fail over after the {what}")
    for probe in log.probes:
        if probe.took is None:
            report.problem(
                f"{probe.what} did not come back after restart {probe.restart}: {probe.detail}"
            )
    recovered: dict[str, float] = defaultdict(float)
    for probe in log.probes:
        recovered[probe.what] = max(recovered[probe.what], probe.took or 0.0)
    report.figure("kills", len(log.kills))
    report.figure("freezes", log.freezes)
    report.figure("backends terminated", log.terminated)
    report.figure(
        "server restarts",
        {m: [round(r.seconds, 2) for r in log.restarts if r.mode == m]
         for m in ("fast", "immediate")},
    )  # fmt: skip
    report.figure(
        "longest recovery after a restart (s)", {k: round(v, 2) for k, v in recovered.items()}
    )
