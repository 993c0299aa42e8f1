"""pqw_persistent_worker and its runs: definitions, the operator's desired state, claim, lease and end of a run."""

from __future__ import annotations

# Code supplies defaults; the row is the source of truth once it exists. An
# operator's config (config_updated_by set) is never overwritten; a config
# nobody changed follows the code.
UPSERT_PERSISTENT_WORKER = """
WITH defined AS (
    INSERT INTO pqw_persistent_worker AS w
        (name, enabled, config, config_schema, queue, heartbeat_interval, heartbeat_timeout)
    VALUES ($1, $2, $3::text::jsonb, $4::text::jsonb, $5,
            $6 * interval '1 second', $7 * interval '1 second')
    ON CONFLICT (name) DO UPDATE
    SET config_schema = EXCLUDED.config_schema,
        queue = EXCLUDED.queue,
        heartbeat_interval = EXCLUDED.heartbeat_interval,
        heartbeat_timeout = EXCLUDED.heartbeat_timeout,
        config = CASE WHEN w.config_updated_by IS NULL THEN EXCLUDED.config ELSE w.config END,
        config_version = CASE WHEN w.config_updated_by IS NULL AND w.config <> EXCLUDED.config
                              THEN w.config_version + 1 ELSE w.config_version END
    RETURNING w.name, w.config, w.config_version, w.config_updated_by
)
-- The version in force is kept in the config history (a new one: "code default").
INSERT INTO pqw_persistent_config (name, version, config, changed_by)
SELECT name, config_version, config, coalesce(config_updated_by, 'code default') FROM defined
ON CONFLICT (name, version) DO NOTHING
"""

# Each worker with its live run (found through the run's unique key, so the
# partial unique index answers), the client running it, and how many live
# clients define it. $1: client staleness in seconds; $2: one name or NULL.
LIST_PERSISTENT_WORKERS = """
SELECT w.*, now() AS now,
       extract(epoch FROM w.heartbeat_interval)::float8 AS heartbeat_interval_s,
       extract(epoch FROM w.heartbeat_timeout)::float8 AS heartbeat_timeout_s,
       j.id AS job_id, j.state::text AS job_state, j.heartbeat_at AS job_heartbeat_at,
       j.runner_id, c.host, c.pid,
       (SELECT count(*) FROM pqw_client rc
        WHERE w.name = ANY(rc.persistent) AND rc.stopped_at IS NULL AND rc.dead_at IS NULL
          AND rc.heartbeat_at > now() - $1 * interval '1 second') AS runners
FROM pqw_persistent_worker w
LEFT JOIN LATERAL (
    SELECT j.id, j.state, j.heartbeat_at,
           j.attempted_by[array_length(j.attempted_by, 1)] AS runner_id
    FROM pqw_job j
    WHERE j.unique_key = pqw_persistent_run_key(w.name)
      AND pqw_job_state_in_bitmask(j.unique_states, j.state)
    LIMIT 1
) j ON true
LEFT JOIN pqw_client c ON c.id = j.runner_id AND j.state = 'running'
WHERE $2::text IS NULL OR w.name = $2
ORDER BY w.name
"""

WORKER_EXISTS = (
    "SELECT config_schema, config, config_version FROM pqw_persistent_worker WHERE name = $1"
)

STOP_WORKER = """
UPDATE pqw_persistent_worker
SET enabled = false, updated_at = now(), updated_by = $2
WHERE name = $1
RETURNING name
"""

# A run that has not started yet is simply cancelled; a running one is told to stop.
CANCEL_WAITING_RUN = """
UPDATE pqw_job
SET state = 'cancelled', finalized_at = now(),
    metadata = metadata || jsonb_build_object('cancelled_by', $2::text)
WHERE unique_key = pqw_persistent_run_key($1)
  AND pqw_job_state_in_bitmask(unique_states, state)
  AND state IN ('available', 'scheduled', 'retryable', 'pending')
"""

START_WORKER = """
UPDATE pqw_persistent_worker
SET enabled = true, consecutive_failures = 0, next_run_at = now(),
    updated_at = now(), updated_by = $2
WHERE name = $1
RETURNING name
"""

RESTART_WORKER = """
UPDATE pqw_persistent_worker
SET enabled = true, consecutive_failures = 0, next_run_at = now(),
    restart_requested_at = now(), updated_at = now(), updated_by = $2
WHERE name = $1
RETURNING name
"""

# The operator's config, kept in the config history with who made it ($3).
SET_WORKER_CONFIG = """
WITH changed AS (
    UPDATE pqw_persistent_worker
    SET config = $2::text::jsonb, config_version = config_version + 1,
        config_updated_by = $3, updated_at = now(), updated_by = $3
    WHERE name = $1
    RETURNING name, config, config_version
),
kept AS (
    INSERT INTO pqw_persistent_config (name, version, config, changed_by)
    SELECT name, config_version, config, $3 FROM changed
    ON CONFLICT (name, version) DO UPDATE
    SET config = EXCLUDED.config, changed_by = EXCLUDED.changed_by, changed_at = now()
)
SELECT config_version FROM changed
"""

# Insert the live run of every enabled worker (or only $1) that is due and has
# none (checked first, so a pass over running workers writes nothing); the
# unique index makes a concurrent insert of the same run a no-op.
INSERT_DUE_RUNS = """
INSERT INTO pqw_job (kind, queue, args, max_attempts, priority, unique_key, unique_states,
                     metadata)
SELECT pqw_persistent_kind(w.name), w.queue, jsonb_build_object('worker', w.name), 1, 0,
       pqw_persistent_run_key(w.name), $2::text::bit(8),
       jsonb_build_object('config_version', w.config_version)
FROM pqw_persistent_worker w
WHERE w.enabled AND w.next_run_at <= now() AND ($1::text IS NULL OR w.name = $1)
  AND NOT EXISTS (
      SELECT 1 FROM pqw_job j
      WHERE j.unique_key = pqw_persistent_run_key(w.name)
        AND pqw_job_state_in_bitmask(j.unique_states, j.state))
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND pqw_job_state_in_bitmask(unique_states, state)
    DO NOTHING
RETURNING id, kind
"""

# The run starts: count it, say where, hand back the desired state. Nothing
# happens unless the attempt is still ours, and the job is a run pqw made: it
# holds the worker's run key over every live state ($5), so it is the one live
# run there can be. A job of the run's kind without it (inserted by hand) is not.
CLAIM_RUN = """
UPDATE pqw_persistent_worker w
SET runs = w.runs + 1, run_started_at = now(), last_client_id = $3,
    progress = NULL, progress_at = NULL
WHERE w.name = $4
  AND EXISTS (SELECT 1 FROM pqw_job j
              WHERE j.id = $1 AND j.attempt = $2 AND j.state = 'running'
                AND j.kind = pqw_persistent_kind($4)
                AND j.unique_key = pqw_persistent_run_key($4)
                AND j.unique_states = $5::text::bit(8))
RETURNING w.enabled, w.config, w.config_version, w.restart_requested_at, w.run_started_at,
          w.runs, w.consecutive_failures
"""
# (The run is recorded, and its state read, next in the same transaction:
# sql.persistent_memory RECORD_RUN_START and CLAIMED_STATE.)

# A job of a run's kind that pqw did not make (no run key: inserted with plain
# SQL) is discarded with an error entry instead of starting a second copy.
# $3: the worker; $4: the error; $5: the run key's states.
DISCARD_FORGED_RUN = """
UPDATE pqw_job
SET state = 'discarded', finalized_at = now(), heartbeat_at = NULL,
    errors = errors || jsonb_build_array(jsonb_build_object(
        'attempt', attempt, 'at', now(), 'error', $4::text))
WHERE id = $1 AND attempt = $2 AND state = 'running'
  AND (unique_key IS DISTINCT FROM pqw_persistent_run_key($3)
       OR unique_states IS DISTINCT FROM $5::text::bit(8))
RETURNING id
"""

# The lease: heartbeat the run's (job id, attempt). No row back means the lease
# is gone. Progress rides along; the worker's desired state comes back.
HEARTBEAT_RUN = """
WITH beat AS (
    UPDATE pqw_job SET heartbeat_at = now()
    WHERE id = $1 AND attempt = $2 AND state = 'running'
    RETURNING id
),
progressed AS (
    UPDATE pqw_persistent_worker
    SET progress = $4::text::jsonb, progress_at = now()
    WHERE name = $3 AND $4::text IS NOT NULL AND EXISTS (SELECT 1 FROM beat)
)
SELECT w.enabled, w.config_version, w.restart_requested_at
FROM pqw_persistent_worker w
WHERE w.name = $3 AND EXISTS (SELECT 1 FROM beat)
"""

WORKER_CONFIG = "SELECT config, config_version FROM pqw_persistent_worker WHERE name = $1"

# End the run's job, if it is still ours.
FINISH_RUN_JOB = """
UPDATE pqw_job
SET state = $3::text::pqw_job_state, finalized_at = now(), heartbeat_at = NULL,
    errors = CASE WHEN $4::text IS NULL THEN errors
                  ELSE errors || jsonb_build_array($4::text::jsonb) END,
    metadata = metadata || $5::text::jsonb
WHERE id = $1 AND attempt = $2 AND state = 'running'
RETURNING id
"""

# What the run's end means for the worker. $2: the run backs off (it crashed,
# or returned by itself too soon); $3: it had run long enough to count as
# healthy (backoff starts again at 1 s); backing off is 1 s doubling to 60 s;
# $4: delay otherwise; $5: it counts as a restart; $6: its error; $7: why it ended.
FINISH_RUN_WORKER = """
UPDATE pqw_persistent_worker w
SET last_run_ended_at = now(),
    last_end_reason = $7,
    consecutive_failures = f.failures,
    next_run_at = now() + CASE WHEN $2 THEN least(60, power(2, f.failures - 1))
                               ELSE $4 END * interval '1 second',
    restarts = w.restarts + CASE WHEN $5 THEN 1 ELSE 0 END,
    last_error = coalesce($6, w.last_error),
    last_error_at = CASE WHEN $6::text IS NULL THEN w.last_error_at ELSE now() END
FROM (SELECT CASE WHEN NOT $2 THEN 0
                  WHEN $3 THEN 1
                  ELSE consecutive_failures + 1 END AS failures
      FROM pqw_persistent_worker WHERE name = $1) f
WHERE w.name = $1
RETURNING w.enabled, w.consecutive_failures
"""

# Removing a worker no code defines any more. Locked first, so a client starting
# meanwhile (whose upsert waits for the lock) writes it back after the delete.
LOCK_WORKER = "SELECT name FROM pqw_persistent_worker WHERE name = $1 FOR UPDATE"

# What keeps a worker: live clients defining it ($2: client staleness in
# seconds), and its running run (with the client running it).
WORKER_KEEPERS = """
SELECT array(SELECT c.id FROM pqw_client c
             WHERE $1 = ANY(c.persistent) AND c.stopped_at IS NULL AND c.dead_at IS NULL
               AND c.heartbeat_at > now() - $2 * interval '1 second'
             ORDER BY c.id) AS definers,
       (SELECT j.id FROM pqw_job j
        WHERE j.unique_key = pqw_persistent_run_key($1)
          AND pqw_job_state_in_bitmask(j.unique_states, j.state) AND j.state = 'running'
        LIMIT 1) AS running_job
"""

DELETE_WORKER = "DELETE FROM pqw_persistent_worker WHERE name = $1 RETURNING name"
