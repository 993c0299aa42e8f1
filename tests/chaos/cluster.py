"""The soak's worker processes and the faults done to them: killed, frozen, thawed, replaced."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.processes import Workers

APP = "tests.workers.chaos:client"


def now() -> datetime:
    """The host's clock: the database's too, as the server runs on this machine."""
    return datetime.now(UTC)


@dataclass
class Member:
    """One `pqw worker` process of the soak."""

    proc: subprocess.Popen[bytes]
    log: Path
    killed_at: datetime | None = None
    freezes: list[tuple[datetime, datetime | None]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def frozen(self) -> bool:
        return bool(self.freezes) and self.freezes[-1][1] is None

    @property
    def alive(self) -> bool:
        return self.killed_at is None and self.proc.poll() is None

    @property
    def started(self) -> bool:
        """It said it works its queues (it has registered)."""
        return self.log.exists() and "started on" in self.log.read_text(errors="replace")


class Cluster:
    """Three (or so) worker processes on the soak's database; every fault is written down."""

    def __init__(self, dsn: str, log_dir: Path) -> None:
        self.dsn = dsn
        self.workers = Workers(dsn, log_dir)
        self.members: list[Member] = []

    def spawn(self) -> Member:
        index = len(self.workers.procs)
        proc = self.workers.spawn(app=APP, PQW_CHAOS_DSN=self.dsn)
        member = Member(proc, self.workers.log_dir / f"worker-{index}.log")
        self.members.append(member)
        return member

    def by_pid(self, pid: int) -> Member | None:
        return next((m for m in self.members if m.pid == pid), None)

    def running(self) -> list[Member]:
        """Members alive, not frozen, and started: the ones a fault may pick."""
        return [m for m in self.members if m.alive and not m.frozen and m.started]

    def frozen(self) -> list[Member]:
        return [m for m in self.members if m.alive and m.frozen]

    def kill(self, member: Member) -> datetime:
        """SIGKILL, as a machine dies; the time it happened."""
        member.killed_at = now()
        os.kill(member.pid, signal.SIGKILL)
        member.proc.wait(30)
        if member.frozen:
            member.freezes[-1] = (member.freezes[-1][0], member.killed_at)
        return member.killed_at

    def freeze(self, member: Member) -> datetime:
        """SIGSTOP: the process stops dead (a long pause, a partition) until thawed."""
        at = now()
        member.freezes.append((at, None))
        os.kill(member.pid, signal.SIGSTOP)
        return at

    def thaw(self, member: Member) -> None:
        if member.frozen:
            os.kill(member.pid, signal.SIGCONT)
            member.freezes[-1] = (member.freezes[-1][0], now())

    def thaw_all(self) -> None:
        for member in self.frozen():
            self.thaw(member)

    def faulted_during(self, pid: int, start: datetime, end: datetime) -> str | None:
        """Why the process `pid` may have lost what it held from start to end: it was
        killed by the end, or frozen at some moment of that span; None when neither."""
        member = self.by_pid(pid)
        if member is None:
            return None
        if member.killed_at is not None and member.killed_at <= end:
            return f"killed at {member.killed_at.isoformat()}"
        for began, ended in member.freezes:
            if began <= end and (ended is None or ended >= start):
                return f"frozen {began.isoformat()} .. {ended.isoformat() if ended else '?'}"
        return None

    def logs(self) -> str:
        return self.workers.logs()

    def stop_all(self) -> None:
        self.thaw_all()
        self.workers.stop_all()
