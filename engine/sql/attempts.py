"""pqw_job: what a running attempt writes, in batches: heartbeats and outcomes.

None of these statements ever waits for a row lock (see COMPLETE_JOBS), and each
does work in proportion to its batch under the generic plan Postgres keeps after
five runs (tests/test_completion_statements.py holds them to it).
"""

from __future__ import annotations

# The attempts ($1: ids, $2: their attempt numbers) of a plain completion or a
# heartbeat.
_ATTEMPTS = """
WITH attempts AS (
    SELECT * FROM unnest($1::bigint[], $2::smallint[]) AS a(id, attempt)
)"""

# The first step of each statement below: of `attempts` (id, attempt, ...), those
# still running as ours, their rows locked; a row someone else has locked is
# skipped. Each later step reads `locked` once (joined to pqw_job by id, or as a
# hashed NOT IN), never joining two CTEs: the generic plan guesses a CTE at a
# row or two and would join two of them by a nested loop, which costs the square
# of the batch (a flush of 1,024 outcomes took 594 ms instead of 41). The state
# is compared as text so the rows are found by id, not by scanning the index of
# every running job of the cluster.
_LOCK_RUNNING = """
locked AS (
    SELECT a.* FROM attempts a JOIN pqw_job j ON j.id = a.id
    WHERE j.attempt = a.attempt AND j.state::text = 'running'
    ORDER BY j.id
    FOR UPDATE OF j SKIP LOCKED
)"""

# Which of `attempts` are busy: still running as ours, but their row was locked
# by someone else. They are tried again later, not taken for lost.
_BUSY = """
FROM attempts a
WHERE a.id NOT IN (SELECT l.id FROM locked l)
  AND (SELECT j.attempt = a.attempt AND j.state = 'running' FROM pqw_job j WHERE j.id = a.id)"""

# Add the attempts in `done` to this client's ($3) per-second throughput row.
_COUNT_THROUGHPUT = """
counted AS (
    INSERT INTO pqw_throughput AS t (second, client_id, completed, failed)
    SELECT date_trunc('second', now()), $3::text,
           count(*) FILTER (WHERE state = 'completed'),
           count(*) FILTER (WHERE state IN ('retryable', 'discarded'))
    FROM done
    HAVING count(*) > 0
    ON CONFLICT (second, client_id) DO UPDATE
        SET completed = t.completed + EXCLUDED.completed, failed = t.failed + EXCLUDED.failed
)"""

# The end of both completion statements: the throughput row counted from `done`,
# then each attempt written (busy false) and each busy one.
_COUNTED_AND_REPORTED = f"""{_COUNT_THROUGHPUT}
SELECT id, false AS busy FROM done
UNION ALL
SELECT a.id, true{_BUSY}
"""

# One UPDATE per flush for every finished attempt, whatever its outcome. Only
# the attempt this client ($3) ran is touched: a job rescued and run elsewhere
# since is left alone. $7 are delays in seconds for retries and snoozes; $8
# gives back the attempt a snooze did not spend.
#
# Heartbeats and completions never wait for a row lock: rows someone else has
# locked (a caller's open transaction, an operator's statement, this client's
# own heartbeat) are skipped and come back as `busy` (the snapshot still shows
# the attempt running and ours), so the caller tries them again instead of
# taking them for lost; only rows that are truly no longer ours are lost. While
# a row is busy its job cannot be rescued: the rescuer skips locked rows, and
# after the lock is gone it leaves alone the jobs a live client says it holds
# (pqw_client.held_jobs, written with every client heartbeat), so a job whose
# row is locked for longer than its heartbeat timeout is still run only once.
# Waiting instead (FOR UPDATE, or a lock_timeout) would stall every other row
# of the batch behind one lock. Taking no waits also means the completer and
# the heartbeat can never deadlock each other.
COMPLETE_JOBS = f"""
WITH attempts AS (
    SELECT * FROM unnest($1::bigint[], $2::smallint[], $4::text[], $5::text[], $6::text[],
                         $7::float8[], $8::smallint[])
        AS u(id, attempt, state_name, error, metadata, delay, refund)
),{_LOCK_RUNNING},
done AS (
    UPDATE pqw_job j
    SET state = l.state_name::pqw_job_state,
        finalized_at = CASE WHEN l.state_name IN ('completed', 'cancelled', 'discarded')
                            THEN now() END,
        scheduled_at = CASE WHEN l.delay IS NULL THEN j.scheduled_at
                            ELSE now() + l.delay * interval '1 second' END,
        attempt = j.attempt - l.refund,
        errors = CASE WHEN l.error IS NULL THEN j.errors
                      ELSE j.errors || jsonb_build_array(l.error::jsonb) END,
        metadata = CASE WHEN l.metadata IS NULL THEN j.metadata
                        ELSE j.metadata || l.metadata::jsonb END,
        heartbeat_at = NULL
    FROM locked l
    WHERE j.id = l.id
    RETURNING j.id, j.state
),{_COUNTED_AND_REPORTED}"""

# COMPLETE_JOBS for a flush whose every attempt simply completed (no error, no
# metadata, no delay, no refund), the common case of a busy queue: the same
# locks, attempt check, busy rows and throughput row, with two arrays to send
# and unpack instead of seven.
COMPLETE_PLAIN_JOBS = f"""
{_ATTEMPTS},{_LOCK_RUNNING},
done AS (
    UPDATE pqw_job j
    SET state = 'completed', finalized_at = now(), heartbeat_at = NULL
    FROM locked l
    WHERE j.id = l.id
    RETURNING j.id, j.state
),{_COUNTED_AND_REPORTED}"""

# Heartbeat this client's held attempts; returns those still held (and whether
# an operator asked to cancel them) and those whose row someone else has
# locked right now (busy: tried again next heartbeat; see COMPLETE_JOBS).
HEARTBEAT_JOBS = f"""
{_ATTEMPTS},{_LOCK_RUNNING},
beat AS (
    UPDATE pqw_job j
    SET heartbeat_at = now()
    FROM locked l
    WHERE j.id = l.id
    RETURNING j.id, (j.metadata ? 'cancel_requested_at') AS cancel_requested
)
SELECT id, cancel_requested, false AS busy FROM beat
UNION ALL
SELECT a.id, false, true{_BUSY}
"""
