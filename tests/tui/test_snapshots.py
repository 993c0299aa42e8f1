"""Pixels of the main screen, the reconfigure modal and help, from the fixed sample cluster.

The same scenes render screenshots/*.svg (`uv run python -m tui.screenshots`).
Update after a deliberate change with `uv run pytest tests/tui --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable

from tui.screenshots import SIZE, help_screen, main_screen, reconfigure_modal, sample_app

SnapCompare = Callable[..., bool]


def test_main_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=main_screen)


def test_main_screen_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=(80, 24), run_before=main_screen)


def test_reconfigure_modal(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=reconfigure_modal)


def test_help_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=help_screen)


def test_reconfigure_modal_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=(80, 24), run_before=reconfigure_modal)
