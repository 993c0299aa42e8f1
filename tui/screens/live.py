"""The base of every full screen: the status line and the outage banner on top, kept current."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

from tui.guard import guarded
from tui.palette import Palette
from tui.widgets.banner import Banner
from tui.widgets.status_bar import StatusBar, StatusLine

if TYPE_CHECKING:
    from tui.app import PqwApp


class LiveScreen(Screen[None]):
    """A screen that composes a StatusBar and a Banner; the app hands it each status."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._status: tuple[StatusLine, float] | None = None
        self._ready = False
        self._dirty = False

    @property
    def pqw(self) -> PqwApp:
        return cast("PqwApp", self.app)

    @property
    def palette(self) -> Palette:
        return Palette.from_theme(self.app.theme_variables)

    def on_mount(self) -> None:
        # Textual calls each class's on_mount along the MRO; subclasses add to
        # `mounted` instead, so the order is certain.
        self._ready = True
        if self._status is None:
            # A screen opened between two status updates starts with the last one.
            self._status = getattr(self.app, "last_status", None)
        self._paint_status()
        self.mounted()

    def mounted(self) -> None:
        """Called once the screen's widgets exist."""

    def repaint(self) -> None:
        """Paint now, or when this screen is back on top."""
        if self.is_current:
            self._paint()
        else:
            self._dirty = True

    def paint_if_dirty(self) -> None:
        """On resume: catch up with data that arrived while covered."""
        if self._dirty:
            self._paint()

    def _paint(self) -> None:
        """Draw the screen's own data (subclasses; they clear _dirty)."""

    def show_status(self, line: StatusLine, monotonic_now: float) -> None:
        self._status = (line, monotonic_now)
        self._paint_status()

    @guarded
    def _paint_status(self) -> None:
        if not self._ready or self._status is None:
            return
        line, monotonic_now = self._status
        self.query_one(StatusBar).show(line, self.palette)
        as_of = line.overview.now if line.overview is not None else None
        self.query_one(Banner).show(line.state, monotonic_now, as_of)
