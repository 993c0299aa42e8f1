"""pqw_periodic_job: durable schedules, their next run times, and an operator's switch."""

from __future__ import annotations

# Code defines a schedule; the row keeps it whole (kind, args, resolved insert
# options with their unique options, and the schedule in a form any leader
# evaluates: $8) and its next run time across restarts. The operator's enabled
# flag is never overwritten; a changed schedule recomputes the next run ($7),
# an unchanged one keeps it.
UPSERT_PERIODIC = """
INSERT INTO pqw_periodic_job AS p (id, kind, schedule, args, opts, next_run_at, spec)
VALUES ($1, $2, $3, $4::text::jsonb, $5::text::jsonb, $6, $8::text::jsonb)
ON CONFLICT (id) DO UPDATE
SET kind = EXCLUDED.kind, args = EXCLUDED.args, opts = EXCLUDED.opts,
    schedule = EXCLUDED.schedule, spec = EXCLUDED.spec,
    next_run_at = CASE WHEN p.schedule = EXCLUDED.schedule
                        AND p.spec IS NOT DISTINCT FROM EXCLUDED.spec THEN p.next_run_at
                       ELSE $7 END,
    last_error = NULL, last_error_at = NULL,
    updated_at = now()
"""

# Every enabled schedule that is due, whoever defines it, locked for this pass.
LOCK_DUE_PERIODIC = """
SELECT id, kind, schedule, spec, args, opts, next_run_at, now() AS now FROM pqw_periodic_job
WHERE enabled AND next_run_at <= now()
ORDER BY next_run_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""

# $3: the job the tick inserted, or the live duplicate it met; $4: 'inserted'
# or 'skipped' (the schedule's own unique options found that duplicate).
ADVANCE_PERIODIC = """
UPDATE pqw_periodic_job
SET next_run_at = $2, last_run_at = now(), last_job_id = $3, last_outcome = $4,
    skips = skips + CASE WHEN $4 = 'skipped' THEN 1 ELSE 0 END,
    last_error = NULL, last_error_at = NULL, updated_at = now()
WHERE id = $1
"""

# A row no leader can evaluate (hand-edited, or written before schedules were
# stored whole) says why; written once per new reason, not every pass.
REFUSE_PERIODIC = """
UPDATE pqw_periodic_job SET last_error = $2, last_error_at = now()
WHERE id = $1 AND last_error IS DISTINCT FROM $2
RETURNING id
"""

# Each schedule, the state of its last job, and how many live clients can run
# its jobs (they register the kind and work its queue). $1: client staleness
# in seconds; $2: the default queue (rows of older versions may not name one).
LIST_PERIODIC = """
SELECT p.id, p.kind, p.schedule, p.args, p.enabled, p.next_run_at, p.last_run_at,
       p.last_job_id, p.last_outcome, p.skips, p.last_error, p.last_error_at,
       coalesce(p.opts ->> 'queue', $2) AS queue, j.state::text AS last_job_state,
       (SELECT count(*) FROM pqw_client c
        WHERE p.kind = ANY(c.kinds) AND c.queues ? coalesce(p.opts ->> 'queue', $2)
          AND c.stopped_at IS NULL AND c.dead_at IS NULL
          AND c.heartbeat_at > now() - $1 * interval '1 second') AS runners
FROM pqw_periodic_job p
LEFT JOIN pqw_job j ON j.id = p.last_job_id
ORDER BY p.id
"""

SET_PERIODIC_ENABLED = """
UPDATE pqw_periodic_job SET enabled = $2, updated_at = now() WHERE id = $1 RETURNING id
"""

DELETE_PERIODIC = "DELETE FROM pqw_periodic_job WHERE id = $1 RETURNING id"

# Run now: the leader's next periodic pass (within half a second) inserts its job.
# Only an enabled schedule (the pass skips a disabled one, which would run it the
# moment someone enabled it); the row's `enabled`, or no row when there is none.
RUN_PERIODIC_NOW = """
WITH s AS (SELECT id, enabled FROM pqw_periodic_job WHERE id = $1 FOR UPDATE),
due AS (
    UPDATE pqw_periodic_job p SET next_run_at = now(), updated_at = now()
    FROM s WHERE p.id = s.id AND s.enabled
)
SELECT enabled FROM s
"""

# An operator's new schedule ($2 its text, $3 its spec, $4 its next run). A client
# that defines the schedule in code writes its own again when it next starts.
SET_PERIODIC_SCHEDULE = """
UPDATE pqw_periodic_job
SET schedule = $2, spec = $3::text::jsonb, next_run_at = $4,
    last_error = NULL, last_error_at = NULL, updated_at = now()
WHERE id = $1
RETURNING id
"""
