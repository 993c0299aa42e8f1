"""A fix for Textual 8.2's toasts: one that expires as it is shown froze the app.

A toast starts a one-shot timer for the time its notification has left, read when
the toast is made. The rack checks that time is left, then makes the toast; when
the notification expires in between (toasts are shown again on every screen
pushed, and the dashboard pushes one for each dialog), the delay is negative.
Textual's Timer then loops for good without awaiting (its catch-up step divides
by the negative interval): the app freezes, deaf to keys and to SIGTERM. Seen
once in tmux; py-spy showed Timer._run spinning with a negative interval.
"""

from __future__ import annotations

from textual.events import Mount
from textual.widgets._toast import Toast

# Positive, so the timer sleeps; short enough to read as gone at once.
SHORTEST_TOAST = 0.05


def _start_expiry(self: Toast, _: Mount) -> None:
    self.set_timer(max(self._timeout, SHORTEST_TOAST), self._expire)


def install() -> None:
    """Replace Toast's mount handler (Textual looks handlers up on the class each time)."""
    Toast._on_mount = _start_expiry  # type: ignore[method-assign]
