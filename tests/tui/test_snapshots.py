"""Pixels of every screen and modal, from the fixed sample cluster.

The same scenes render screenshots/*.svg (`uv run python -m tui.dev.screenshots`).
Update after a deliberate change with `uv run pytest tests/tui --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable

from tui.dev.screenshots import (
    SIZE,
    confirm_delete,
    failures_screen,
    help_screen,
    job_screen,
    jobs_screen,
    main_screen,
    reconfigure_modal,
    sample_app,
    schedules_open,
    worker_log_search,
    worker_screen,
)

SnapCompare = Callable[..., bool]
SMALL = (80, 24)


def test_main_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=main_screen)


def test_main_screen_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SMALL, run_before=main_screen)


def test_schedules_unfold_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SMALL, run_before=schedules_open)


def test_reconfigure_modal(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=reconfigure_modal)


def test_help_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=help_screen)


def test_reconfigure_modal_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SMALL, run_before=reconfigure_modal)


def test_jobs_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=jobs_screen)


def test_jobs_screen_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SMALL, run_before=jobs_screen)


def test_job_detail(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=job_screen)


def test_delete_asks_first(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=confirm_delete)


def test_worker_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=worker_screen)


def test_worker_screen_log_search(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=worker_log_search)


def test_worker_screen_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SMALL, run_before=worker_screen)


def test_failures_by_cause(snap_compare: SnapCompare) -> None:
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=failures_screen)
