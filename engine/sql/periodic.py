"""pqw_periodic_job: durable schedules, their next run times, and an operator's switch."""

from __future__ import annotations

# Code defines a schedule; the row keeps its next run time across restarts.
# The operator's enabled flag is never overwritten; a changed schedule
# recomputes the next run, an unchanged one keeps it.
UPSERT_PERIODIC = """
INSERT INTO pqw_periodic_job AS p (id, kind, schedule, args, opts, next_run_at)
VALUES ($1, $2, $3, $4::text::jsonb, $5::text::jsonb, $6)
ON CONFLICT (id) DO UPDATE
SET kind = EXCLUDED.kind, args = EXCLUDED.args, opts = EXCLUDED.opts,
    schedule = EXCLUDED.schedule,
    next_run_at = CASE WHEN p.schedule = EXCLUDED.schedule THEN p.next_run_at
                       ELSE $7 END,
    updated_at = now()
"""

# Due schedules among those this leader defines, locked for this pass.
LOCK_DUE_PERIODIC = """
SELECT id, next_run_at, now() AS now FROM pqw_periodic_job
WHERE enabled AND next_run_at <= now() AND id = ANY($1::text[])
ORDER BY next_run_at
FOR UPDATE SKIP LOCKED
"""

ADVANCE_PERIODIC = """
UPDATE pqw_periodic_job
SET next_run_at = $2, last_run_at = now(), last_job_id = $3, updated_at = now()
WHERE id = $1
"""

LIST_PERIODIC = """
SELECT id, kind, schedule, args, enabled, next_run_at, last_run_at, last_job_id
FROM pqw_periodic_job ORDER BY id
"""

SET_PERIODIC_ENABLED = """
UPDATE pqw_periodic_job SET enabled = $2, updated_at = now() WHERE id = $1 RETURNING id
"""
