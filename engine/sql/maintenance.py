"""The leader's upkeep of pqw_job: scheduling due jobs, rescuing stale ones, cleaning finished ones."""

from __future__ import annotations

from engine.sql.channels import INSERT_CHANNEL

# Scheduled and retryable jobs whose time has come become available. A job
# that would collide with a live holder of its unique key (possible only when
# its own unique states leave out its current state) is discarded with a note
# instead, so the unique index is never violated. Producers are woken per queue.
SCHEDULE_DUE_JOBS = f"""
WITH due AS (
    SELECT id, unique_key, unique_states, state FROM pqw_job
    WHERE state IN ('scheduled', 'retryable') AND scheduled_at <= now()
    ORDER BY scheduled_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
),
blocked AS (
    SELECT d.id FROM due d
    WHERE d.unique_key IS NOT NULL
      AND NOT pqw_job_state_in_bitmask(d.unique_states, d.state)
      AND (EXISTS (SELECT 1 FROM pqw_job o
                   WHERE o.unique_key = d.unique_key AND o.id <> d.id
                     AND pqw_job_state_in_bitmask(o.unique_states, o.state))
           OR EXISTS (SELECT 1 FROM due e
                      WHERE e.unique_key = d.unique_key AND e.id < d.id
                        AND NOT pqw_job_state_in_bitmask(e.unique_states, e.state)))
),
discarded AS (
    UPDATE pqw_job j
    SET state = 'discarded', finalized_at = now(),
        metadata = j.metadata || jsonb_build_object(
            'discarded_reason',
            'another live job holds its unique key, so it could not become available again')
    FROM blocked b WHERE j.id = b.id
    RETURNING j.id
),
made AS (
    UPDATE pqw_job j SET state = 'available'
    FROM due d
    WHERE j.id = d.id AND d.id NOT IN (SELECT id FROM blocked)
    RETURNING j.queue
),
woken AS (
    SELECT pg_notify('{INSERT_CHANNEL}', q.queue) FROM (SELECT DISTINCT queue FROM made) q
)
SELECT (SELECT count(*) FROM made) AS made,
       (SELECT count(*) FROM discarded) AS discarded,
       (SELECT count(*) FROM woken) AS woken
"""

# Running jobs whose runner stopped heartbeating go back to retryable (or
# discarded when out of attempts, cancelled when cancellation was asked for),
# with an error entry naming the client. A job whose own heartbeat is late but
# whose client is alive and says it holds the job is not stale: its row was
# locked by someone else, which delays its heartbeat, not its runner (see
# sql.attempts.COMPLETE_JOBS). A lost persistent-worker run is recorded on its
# worker (so the supervisor starts the next one at once) and in its run history
# as rescued. A client whose own heartbeat is as old as the job's timeout is
# marked dead at once, as its runs move, not only once client_dead_after passes
# (its next heartbeat, if it was only paused, brings it back).
RESCUE_STALE_JOBS = """
WITH stale AS (
    SELECT j.id FROM pqw_job j
    WHERE j.state = 'running'
      AND j.heartbeat_at < now() - coalesce(j.heartbeat_timeout, $2 * interval '1 second')
      AND NOT EXISTS (
          SELECT 1 FROM pqw_client c
          WHERE c.id = j.attempted_by[array_length(j.attempted_by, 1)]
            AND c.stopped_at IS NULL AND c.dead_at IS NULL
            AND c.heartbeat_at >= now() - coalesce(j.heartbeat_timeout, $2 * interval '1 second')
            AND j.id = ANY(c.held_jobs))
    ORDER BY j.heartbeat_at
    LIMIT $1
    FOR UPDATE OF j SKIP LOCKED
),
rescued AS (
    UPDATE pqw_job j
    SET state = CASE WHEN j.metadata ? 'cancel_requested_at' THEN 'cancelled'::pqw_job_state
                     WHEN j.attempt >= j.max_attempts THEN 'discarded'::pqw_job_state
                     ELSE 'retryable'::pqw_job_state END,
        finalized_at = CASE WHEN j.metadata ? 'cancel_requested_at'
                                 OR j.attempt >= j.max_attempts THEN now() END,
        scheduled_at = now(),
        heartbeat_at = NULL,
        errors = j.errors || jsonb_build_array(jsonb_build_object(
            'attempt', j.attempt,
            'at', now(),
            'error', format('rescued: client %s stopped heartbeating (last heartbeat %s ago)',
                            coalesce(j.attempted_by[array_length(j.attempted_by, 1)], '?'),
                            date_trunc('second', now() - j.heartbeat_at))))
    FROM stale WHERE j.id = stale.id
    RETURNING j.id, j.kind, j.state::text AS state, j.attempt,
              j.attempted_by[array_length(j.attempted_by, 1)] AS client_id,
              coalesce(j.heartbeat_timeout, $2 * interval '1 second') AS timeout
),
lost_runs AS (
    UPDATE pqw_persistent_worker w
    SET restarts = w.restarts + 1, next_run_at = now(), last_run_ended_at = now(),
        last_end_reason = 'rescued',
        last_error = format('runner %s lost: no heartbeat within %s', r.client_id,
                            w.heartbeat_timeout),
        last_error_at = now()
    FROM rescued r
    WHERE r.kind = pqw_persistent_kind(w.name)
    RETURNING w.name
),
lost_history AS (
    UPDATE pqw_persistent_run h
    SET ended_at = now(), end_reason = 'rescued',
        error = format('runner %s lost: no heartbeat within %s', r.client_id, r.timeout)
    FROM rescued r
    WHERE h.job_id = r.id AND h.attempt = r.attempt AND h.ended_at IS NULL
),
marked_dead AS (
    UPDATE pqw_client c SET dead_at = now()
    FROM (SELECT client_id, min(timeout) AS timeout FROM rescued GROUP BY client_id) r
    WHERE c.id = r.client_id AND c.dead_at IS NULL AND c.stopped_at IS NULL
      AND c.heartbeat_at < now() - r.timeout
    RETURNING c.id
)
SELECT r.id, r.kind, r.state, r.client_id,
       (SELECT count(*) FROM lost_runs) AS lost_runs,
       (SELECT coalesce(array_agg(id), '{}') FROM marked_dead) AS marked_dead
FROM rescued r
"""

DELETE_FINISHED_JOBS = """
WITH doomed AS (
    SELECT id FROM pqw_job
    WHERE state = $1::pqw_job_state AND finalized_at < now() - $2 * interval '1 second'
    ORDER BY finalized_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
DELETE FROM pqw_job j USING doomed WHERE j.id = doomed.id
"""

DELETE_OLD_THROUGHPUT = "DELETE FROM pqw_throughput WHERE second < now() - $1 * interval '1 second'"

# Fold the job-count deltas committed so far (at most $1 rows) into the exact
# per-(queue, state) counts, and the attempts they finished into the per-minute
# outcomes of their queue; outcomes older than $2 seconds go. Deltas of
# transactions still open are invisible here and stay for the next pass, so
# each is folded exactly once. Only the leader folds, so no two writers meet on
# a count row (and if two ever did, the row lock orders them).
FOLD_JOB_COUNTS = """
WITH moved AS (
    DELETE FROM pqw_job_count_delta
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM pqw_job_count_delta LIMIT $1))
    RETURNING queue, state, delta, entered, at
),
counted AS (
    INSERT INTO pqw_job_count AS c (queue, state, n)
    SELECT queue, state, sum(delta) FROM moved GROUP BY queue, state
    ON CONFLICT (queue, state) DO UPDATE SET n = c.n + EXCLUDED.n
    RETURNING 1
),
finished AS (
    SELECT date_trunc('minute', at) AS minute, queue,
           coalesce(sum(entered) FILTER (WHERE state = 'completed'), 0) AS completed,
           coalesce(sum(entered) FILTER (WHERE state IN ('retryable', 'discarded')), 0) AS failed
    FROM moved
    GROUP BY 1, 2
),
outcomes AS (
    INSERT INTO pqw_queue_outcome AS o (minute, queue, completed, failed)
    SELECT minute, queue, completed, failed FROM finished WHERE completed + failed > 0
    ON CONFLICT (minute, queue) DO UPDATE
        SET completed = o.completed + EXCLUDED.completed, failed = o.failed + EXCLUDED.failed
    RETURNING 1
),
pruned AS (
    DELETE FROM pqw_queue_outcome WHERE minute < now() - $2 * interval '1 second' RETURNING 1
)
SELECT (SELECT count(*) FROM moved) AS moved,
       (SELECT count(*) FROM counted) AS counted,
       (SELECT count(*) FROM outcomes) AS outcomes,
       (SELECT count(*) FROM pruned) AS pruned
"""
