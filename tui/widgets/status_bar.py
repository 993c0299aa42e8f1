"""The top line: which database, whether we are connected, the leader, the refresh rate."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from engine.admin import Overview
from tui.data.feed import Connected, Connecting, ConnectionState, NotMigrated, Reconnecting
from tui.palette import Palette


@dataclass(frozen=True)
class StatusLine:
    database: str
    state: ConnectionState
    overview: Overview | None
    refresh: str
    paused: bool = False
    demo: bool = False
    # Every action is hidden and refused: --read-only, or a role that may only read.
    read_only: bool = False
    internal_errors: int = 0  # bugs caught since start (each kind told once, in a toast)


def leader_name(overview: Overview) -> str:
    """The leader as host:pid when its client is listed, else its id."""
    leader = overview.leader
    if leader is None or not leader.valid:
        return "none"
    for c in overview.clients:
        if c.id == leader.leader_id:
            return f"{c.host}:{c.pid}"
    return leader.leader_id


def connection_label(state: ConnectionState, palette: Palette) -> Text:
    if isinstance(state, Connected):
        return Text("● connected", style=palette.good)
    if isinstance(state, Connecting):
        return Text("◌ connecting", style=palette.busy)
    if isinstance(state, NotMigrated):
        return Text("● not migrated", style=palette.warn)
    if isinstance(state, Reconnecting) and not state.connection_lost:
        return Text("● refresh failing", style=palette.bad)
    return Text("● reconnecting", style="bold " + palette.bad)


class StatusBar(Horizontal):
    """Where and how connected on the left; the refresh rate always visible on the right."""

    def compose(self) -> ComposeResult:
        yield Static(id="status-where")
        yield Static(id="status-refresh")

    def show(self, line: StatusLine, palette: Palette) -> None:
        parts: list[Text] = [Text.assemble(("pqw", "bold"), " ", (line.database, "bold"))]
        if line.read_only:
            parts.append(Text(" read-only ", style="bold reverse " + palette.warn))
        if line.demo:
            parts.append(Text("demo", style=palette.pending))
        parts.append(connection_label(line.state, palette))
        if line.internal_errors:  # before the rest, which an ellipsis may cut
            n = line.internal_errors
            parts.append(Text(f"⚠ {n} internal error{'s' if n != 1 else ''}", style=palette.bad))
        if line.overview is not None:
            alive = sum(1 for c in line.overview.clients if c.alive)
            parts.append(Text(f"leader {leader_name(line.overview)}"))
            parts.append(Text(f"{alive} client{'s' if alive != 1 else ''} live"))
        text = Text(" │ ", style="dim").join(parts)
        text.no_wrap = True
        text.overflow = "ellipsis"
        self.query_one("#status-where", Static).update(text)
        refresh = Text("refresh ")
        if line.paused:
            refresh.append(" paused ", style="bold reverse " + palette.warn)
        else:
            refresh.append(line.refresh, style="bold")
        self.query_one("#status-refresh", Static).update(refresh)
