"""The dashboard's pure parts: formatting, rates, pending changes, backoff, parsing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from engine.admin import Job, JobState, Overview, WorkerStatus
from tui import formatting as fmt
from tui.data import pending
from tui.data.clock import DisplayClock
from tui.data.feed import ActionFailed, Feed, Reconnecting, backoff_delay, is_outage
from tui.data.refresh import RefreshRate
from tui.dev.sample import SampleSource
from tui.dev.sample_cluster import SAMPLE_NOW, sample_overview
from tui.dev.sample_jobs import sample_jobs
from tui.launch import parse_options
from tui.palette import Palette
from tui.screens.reconfigure import ConfigError, parse_config, schema_hint
from tui.widgets.banner import banner_text
from tui.widgets.clients_table import client_cells
from tui.widgets.throughput import throughput_summary
from tui.widgets.workers_table import live_status


def test_counts_are_exact_with_separators_and_estimates_are_marked() -> None:
    assert fmt.job_count(0) == "0"
    assert fmt.job_count(12_345) == "12,345"
    assert fmt.job_count(1_240_000, estimated=True) == "~1.2M"
    assert fmt.job_count(150_000, estimated=True) == "~150k"


def test_ages_are_words_and_durations_are_compact() -> None:
    assert fmt.ago(2) == "2 seconds ago"
    assert fmt.ago(None) == fmt.NONE
    assert fmt.duration(45) == "45s"
    assert fmt.duration(3 * 3600 + 12 * 60 + 5) == "3h 12m"
    assert fmt.duration(2 * 86_400 + 4 * 3600) == "2d 04h"


def test_times_ahead_are_words() -> None:
    assert fmt.until(12) == "in 12 seconds"
    assert fmt.until(3 * 3600) == "in 3 hours"
    assert fmt.until(0.4) == "due now"
    assert fmt.until(-30) == "due now"
    assert fmt.until(None) == fmt.NONE
    assert fmt.json_line({"to": "a@b.c"}, 40) == '{"to": "a@b.c"}'
    assert fmt.json_line({}, 40) == fmt.NONE


def test_free_text_is_one_line_and_cut() -> None:
    assert fmt.one_line("boom\ntraceback...", 20) == "boom"
    assert fmt.one_line("x" * 30, 10) == "x" * 9 + "…"
    assert fmt.progress({"done": 3, "of": 10}, 40) == "done=3 of=10"


def test_refresh_rate_steps_and_pauses() -> None:
    rate = RefreshRate(1.0)
    assert rate.faster().seconds == 0.5
    assert rate.slower().seconds == 2.0
    assert RefreshRate(0.25).faster().seconds == 0.25
    assert RefreshRate(3.0).faster().seconds == 2.0  # an odd --refresh joins the ladder
    assert rate.toggled().label == "paused"
    with pytest.raises(ValueError):
        RefreshRate(0)


def test_backoff_grows_to_a_ceiling() -> None:
    assert [backoff_delay(n) for n in (1, 2, 3, 4, 5, 6, 50)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_outages_are_told_from_bad_reads() -> None:
    assert is_outage(ConnectionResetError())
    assert not is_outage(ValueError("bad"))


class CutSource(SampleSource):
    """A cluster behind a pool whose connections were cut: every call raises a raw socket error."""

    @property
    def dsn(self) -> str:
        return "postgresql://alice:s3cret@db.internal:5432/orders"

    async def overview(self) -> Overview:
        raise ConnectionResetError("connection reset by peer")

    async def pause_queue(self, name: str) -> None:
        raise ConnectionResetError("connection reset by peer")


async def test_a_raw_connection_error_is_told_as_a_failed_connect_without_the_password() -> None:
    feed = Feed(CutSource(), lambda message: None)
    told = "cannot connect to Postgres at alice@db.internal:5432/orders: connection reset by peer"
    await feed.poll()
    state = feed.state
    assert isinstance(state, Reconnecting) and state.connection_lost
    assert state.reason == told
    with pytest.raises(ActionFailed) as failed:
        await feed.act(lambda admin: admin.pause_queue("mail"))
    assert str(failed.value) == f"database unavailable: {told}"


def test_a_heartbeat_older_than_its_timeout_is_stale_between_refreshes() -> None:
    feed = sample_overview().workers[0]
    assert feed.status is WorkerStatus.RUNNING
    assert live_status(feed, SAMPLE_NOW) is WorkerStatus.RUNNING
    later = SAMPLE_NOW + timedelta(seconds=feed.heartbeat_timeout + 1)
    assert live_status(feed, later) is WorkerStatus.STALE


def test_display_clock_runs_while_live_and_stops_when_paused() -> None:
    t = [100.0]
    clock = DisplayClock(monotonic=lambda: t[0])
    assert clock.now() is None
    clock.anchor(SAMPLE_NOW, 100.0)
    t[0] = 103.0
    assert clock.now() == SAMPLE_NOW + timedelta(seconds=3)
    clock.stop()
    t[0] = 110.0
    assert clock.now() == SAMPLE_NOW + timedelta(seconds=3)
    assert DisplayClock(frozen=SAMPLE_NOW).now() == SAMPLE_NOW


def test_pending_change_is_confirmed_only_by_a_read_begun_after_the_action() -> None:
    worker = sample_overview().workers[0]
    changes: pending.PendingChanges[object] = pending.PendingChanges()
    changes.begin("feed-poller", pending.RUN, pending.stopping())
    stopped = {"feed-poller": replace(worker, enabled=False)}
    changes.confirm(stopped, read_started_at=5.0, now=5.0)
    assert changes.labels() == {("feed-poller", "run"): "stopping…"}  # action still running
    changes.settle("feed-poller", pending.RUN, at=10.0)
    changes.confirm(stopped, read_started_at=9.0, now=11.0)
    assert changes.labels()  # that read began before the action finished
    changes.confirm({"feed-poller": worker}, read_started_at=12.0, now=12.0)
    assert changes.labels()  # still enabled: not done
    changes.confirm(stopped, read_started_at=12.0, now=12.0)
    assert changes.labels() == {}


def test_unconfirmed_change_fades() -> None:
    worker = sample_overview().workers[0]
    changes: pending.PendingChanges[object] = pending.PendingChanges()
    changes.begin("feed-poller", pending.CONFIG, pending.reconfiguring(3, 4))
    changes.settle("feed-poller", pending.CONFIG, at=0.0)
    changes.confirm({"feed-poller": worker}, 1.0, now=1.0)
    assert changes.labels() == {("feed-poller", "config"): "v3→v4…"}
    changes.confirm({"feed-poller": worker}, 1.0, now=pending.PENDING_TTL + 1)
    assert changes.labels() == {}


def test_config_text_must_be_a_json_object() -> None:
    assert parse_config('{"a": 1}') == {"a": 1}
    with pytest.raises(ConfigError, match="line 2, column 1"):
        parse_config('{"a": 1,\n}')
    with pytest.raises(ConfigError, match="JSON object"):
        parse_config("[1, 2]")


def test_schema_hint_names_fields() -> None:
    hint = schema_hint(sample_overview().workers[0].config_schema)
    assert hint.startswith("Fields: url: string (required)")
    assert schema_hint(None).startswith("No schema")


def test_banner_says_what_failed_and_when_it_retries() -> None:
    state = Reconnecting(attempt=3, retry_at=104.2, reason="connection refused")
    text = banner_text(state, now=100.0, data_as_of=SAMPLE_NOW)
    assert text is not None
    assert "Database unavailable: connection refused" in text
    assert "attempt 3, retrying in 5s" in text
    assert "Showing data as of" in text


def test_throughput_summary() -> None:
    assert throughput_summary([1, 2, 5, 3]) == "now 5/s · peak 5/s · 11 in 4s"
    assert throughput_summary([]) == "no data"


def test_options(capsys: pytest.CaptureFixture[str]) -> None:
    options = parse_options(["--dsn", "postgresql://x/y", "--refresh", "2.5", "--theme", "nord"])
    assert (options.refresh, options.theme, options.demo) == (2.5, "nord", False)
    for bad in (["--theme", "no-such-theme"], ["--refresh", "0"], ["--refresh", "soon"]):
        with pytest.raises(SystemExit) as exit_info:
            parse_options(bad)
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown theme 'no-such-theme'; choose one of:" in err
    assert "must be between 0.1 and 3600 seconds" in err
    assert "not a number of seconds: 'soon'" in err
    assert "Traceback" not in err


def test_a_job_change_is_confirmed_only_by_a_read_that_looked_at_the_job() -> None:
    job = sample_jobs(SAMPLE_NOW)[0]
    changes: pending.PendingChanges[Job] = pending.PendingChanges()
    changes.begin(str(job.id), pending.JOB, pending.deleting())
    changes.begin("1", pending.JOB, pending.cancelling(running=True))
    changes.settle(str(job.id), pending.JOB, at=1.0)
    changes.settle("1", pending.JOB, at=1.0)
    # One job's detail read says nothing about the others.
    changes.confirm({str(job.id): job}, 2.0, 2.0, covered={str(job.id)})
    assert set(changes.labels()) == {(str(job.id), "job"), ("1", "job")}
    # A list read without the deleted job: it is gone; the running one still runs.
    running = replace(job, id=1, state=JobState.RUNNING)
    changes.confirm({"1": running}, 3.0, 3.0)
    assert changes.labels() == {("1", "job"): "cancel requested…"}
    changes.confirm({"1": replace(running, state=JobState.CANCELLED)}, 4.0, 4.0)
    assert changes.labels() == {}


def test_a_schedule_change_is_confirmed_by_its_state() -> None:
    schedule = sample_overview().periodic[1]
    changes: pending.PendingChanges[object] = pending.PendingChanges()
    changes.begin(schedule.id, pending.ENABLED, pending.disabling())
    changes.settle(schedule.id, pending.ENABLED, at=1.0)
    changes.confirm({schedule.id: schedule}, 2.0, 2.0)
    assert changes.labels() == {(schedule.id, "enabled"): "disabling…"}
    changes.confirm({schedule.id: replace(schedule, enabled=False)}, 2.0, 2.0)
    assert changes.labels() == {}


def test_the_state_keys_and_help_cover_every_new_key() -> None:

    from tui.keys import help_sections

    text = str(help_sections([], lambda b: b.key_display or b.key))
    for line in (
        "Enable or disable the selected schedule",
        "List the selected queue's jobs",
        "Cancel the job (asks first)",
        "Run the job again now",
        "Delete the job (asks first)",
        "Search: kind:email.*",
        "7 discarded",
        "Read the next page of older jobs",
    ):
        assert line in text, line


def test_a_second_toggle_goes_from_the_intended_state_not_the_last_read() -> None:
    changes: pending.PendingChanges[object] = pending.PendingChanges()
    assert changes.intended("feed-poller", pending.RUN, current=True) is True
    changes.begin("feed-poller", pending.RUN, pending.stopping())
    assert changes.intended("feed-poller", pending.RUN, current=True) is False
    # A change with no on/off target (a new config) leaves the current state be.
    changes.begin("feed-poller", pending.CONFIG, pending.reconfiguring(1, 2))
    assert changes.intended("feed-poller", pending.CONFIG, current=True) is True


def test_a_long_logger_name_keeps_its_end_in_the_log_column() -> None:
    from rich.cells import cell_len

    from tui.widgets.log_tail import LOGGER_WIDTH, logger_column

    assert logger_column("app.feed") == "app.feed   "
    assert logger_column("app.integrations.feeds.poller") == "…eds.poller"
    assert logger_column("日本語のロガー名前.feed") == "…名前.feed "  # wide characters: two cells
    for name in ("x" * 500, "feed-poller", "pqw"):
        assert cell_len(logger_column(name)) == LOGGER_WIDTH


def test_a_dead_clients_time_up_ends_with_it() -> None:
    palette = Palette()
    dead = next(c for c in sample_overview().clients if not c.alive)
    ran = fmt.duration((dead.heartbeat_at - dead.started_at).total_seconds())
    for now in (SAMPLE_NOW, SAMPLE_NOW + timedelta(hours=5)):  # it stays put
        assert client_cells(dead, now, palette)[4].plain == ran
    stopped = replace(dead, stopped_at=dead.started_at + timedelta(minutes=3))
    assert client_cells(stopped, SAMPLE_NOW, palette)[4].plain == fmt.duration(180)
    live = replace(dead, alive=True, heartbeat_at=SAMPLE_NOW)
    up = fmt.duration((SAMPLE_NOW - dead.started_at).total_seconds())
    assert client_cells(live, SAMPLE_NOW, palette)[4].plain == up
