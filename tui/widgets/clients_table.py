"""Clients (nodes): every process running pqw, its queues, its liveness, and the leader."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from engine.admin import ClientInfo
from tui import formatting as fmt
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable


class ClientsTable(KeyedTable):
    COLUMNS = (
        ("host", "Host"),
        ("role", "Role"),
        ("pid", Text("PID", justify="right")),
        ("queues", "Queues"),
        ("started", Text("Up", justify="right")),
        ("heartbeat", Text("Heartbeat", justify="right")),
    )
    DROP_FIRST = ("started", "pid")

    def show(self, clients: list[ClientInfo], now: datetime, palette: Palette) -> None:
        self.sync({c.id: client_cells(c, now, palette) for c in clients})


def client_cells(c: ClientInfo, now: datetime, palette: Palette) -> list[Cell]:
    if c.is_leader:
        role = Text("★ leader", style="bold " + palette.good)
    elif c.alive:
        role = Text("member")
    else:
        role = Text("✖ dead", style=palette.bad)
    heartbeat_age = (now - c.heartbeat_at).total_seconds()
    # A dead client's time up ended with it: when it stopped, or its last heartbeat.
    up_until = now if c.alive else (c.stopped_at or c.heartbeat_at)
    return [
        Text(c.host, style="bold" if c.alive else palette.muted),
        role,
        Text(str(c.pid), justify="right"),
        Text(fmt.queue_concurrency(c.queues)),
        Text(
            fmt.duration((up_until - c.started_at).total_seconds()),
            style="" if c.alive else palette.muted,
            justify="right",
        ),
        Text(fmt.age(heartbeat_age), style="" if c.alive else palette.bad, justify="right"),
    ]
