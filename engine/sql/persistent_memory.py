"""What a persistent worker remembers: its checkpointed state, its runs, its log ring and
its config versions (pqw_persistent_state, _run, _log, _config)."""

from __future__ import annotations

# The run starts (after CLAIM_RUN, in its transaction): it is recorded with where it
# runs and its config version. $1 job id; $2 attempt; $3 client; $4 worker; $5 run
# number; $6 config version; $7 when it started (the worker's run_started_at).
RECORD_RUN_START = """
INSERT INTO pqw_persistent_run
    (name, run, job_id, attempt, client_id, host, pid, config_version, started_at)
SELECT $4, $5, $1, $2, $3, c.host, c.pid, $6, $7
FROM (SELECT 1) one LEFT JOIN pqw_client c ON c.id = $3
"""

# The state the starting run gets. A statement of its own after the claim, so it
# reads after the claim's lock on the worker row: a reset that held that row
# (RESET_WORKER_STATE) is seen, never the state from before it.
CLAIMED_STATE = "SELECT state, version FROM pqw_persistent_state WHERE name = $1"

# How the run ended, once: by the run itself (returned, stop, crash, ...), by the
# runner that lost its lease, or by the rescuer (rescued), whichever comes first.
# $1 job id; $2 attempt; $3 why; $4 the error, if any.
RECORD_RUN_END = """
UPDATE pqw_persistent_run
SET ended_at = now(), end_reason = $3, error = $4
WHERE job_id = $1 AND attempt = $2 AND ended_at IS NULL
"""

# A checkpoint, fenced by the run's lease: written only while the run's job is still
# running its attempt. The lease row is locked first, so the rescuer (which skips
# locked rows) cannot take the run back mid-write, and a run already taken back
# finds no row (the lock re-reads it) and writes nothing: no successor's state is
# ever overwritten. $1 job id; $2 attempt; $3 worker; $4 state (JSON text);
# $5 its size in bytes; $6 run number; $7 client. The new version, or no row.
CHECKPOINT_STATE = """
WITH lease AS (
    SELECT id FROM pqw_job
    WHERE id = $1 AND attempt = $2 AND state = 'running'
    FOR SHARE
)
INSERT INTO pqw_persistent_state AS s
    (name, state, version, size, run, job_id, client_id, checkpointed_at)
SELECT $3, $4::text::jsonb, 1, $5, $6, $1, $7, now() FROM lease
ON CONFLICT (name) DO UPDATE
SET state = EXCLUDED.state, version = s.version + 1, size = EXCLUDED.size,
    run = EXCLUDED.run, job_id = EXCLUDED.job_id, client_id = EXCLUDED.client_id,
    checkpointed_at = now()
RETURNING s.version
"""

# Locks the worker's row for a reset (RESET_WORKER_STATE follows in the same
# transaction, so it reads what the lock waited for). The live run, if one is running.
LOCK_WORKER_FOR_RESET = """
SELECT w.name,
       (SELECT j.id FROM pqw_job j
        WHERE j.unique_key = pqw_persistent_run_key(w.name)
          AND pqw_job_state_in_bitmask(j.unique_states, j.state)
          AND j.state = 'running') AS running_job
FROM pqw_persistent_worker w WHERE w.name = $1
FOR UPDATE OF w
"""

# Forget the state: the next run starts with none. $2: who.
RESET_WORKER_STATE = """
INSERT INTO pqw_persistent_state AS s (name, state, version, size, reset_at, reset_by)
VALUES ($1, NULL, 1, 0, now(), $2)
ON CONFLICT (name) DO UPDATE
SET state = NULL, version = s.version + 1, size = 0, run = NULL, job_id = NULL,
    client_id = NULL, checkpointed_at = NULL, reset_at = now(), reset_by = $2
RETURNING s.version
"""

# The worker's state; $2: the version the caller has (the state itself is left out
# when it is that one), NULL for always. No row: no such worker.
WORKER_STATE = """
SELECT w.name, now() AS now,
       coalesce(s.version, 0) AS version, coalesce(s.size, 0) AS size,
       s.run, s.job_id, s.client_id, s.checkpointed_at, s.reset_at, s.reset_by,
       ($2::bigint IS NULL OR coalesce(s.version, 0) <> $2) AS included,
       CASE WHEN $2::bigint IS NULL OR coalesce(s.version, 0) <> $2 THEN s.state END AS state
FROM pqw_persistent_worker w
LEFT JOIN pqw_persistent_state s ON s.name = w.name
WHERE w.name = $1
"""

# The newest runs first. $2: how many.
WORKER_RUNS = """
SELECT r.*, now() AS now FROM pqw_persistent_run r
WHERE r.name = $1
ORDER BY r.id DESC
LIMIT $2
"""

# Append lines to the worker's ring: line numbers are taken from the worker's row
# (so two runs writing at once never share one), and line n lands in slot n % $8,
# over the line a ring before it. $2 run; $3..$6 the lines' times, levels, loggers
# and messages; $7 the ring's size (never fewer lines in it than in one call).
APPEND_WORKER_LOG = """
WITH head AS (
    UPDATE pqw_persistent_worker SET log_seq = log_seq + cardinality($6::text[])
    WHERE name = $1
    RETURNING log_seq - cardinality($6::text[]) AS base
)
INSERT INTO pqw_persistent_log AS l (name, slot, seq, run, at, level, logger, message)
SELECT $1, ((h.base + n.i) % $7)::integer, h.base + n.i, $2, n.at, n.level, n.logger, n.message
FROM head h,
     unnest($3::timestamptz[], $4::smallint[], $5::text[], $6::text[])
         WITH ORDINALITY AS n (at, level, logger, message, i)
ON CONFLICT (name, slot) DO UPDATE
SET seq = EXCLUDED.seq, run = EXCLUDED.run, at = EXCLUDED.at, level = EXCLUDED.level,
    logger = EXCLUDED.logger, message = EXCLUDED.message
"""

# The newest $3 lines after line $2 (NULL: the newest $3), oldest first.
WORKER_LOG = """
SELECT * FROM (
    SELECT seq, run, at, level, logger, message FROM pqw_persistent_log
    WHERE name = $1 AND ($2::bigint IS NULL OR seq > $2)
    ORDER BY seq DESC
    LIMIT $3
) newest
ORDER BY seq
"""

# The newest config versions first, with who made each. $2: how many.
WORKER_CONFIGS = """
SELECT version, config, changed_by, changed_at FROM pqw_persistent_config
WHERE name = $1
ORDER BY version DESC
LIMIT $2
"""

# The cleaner: runs beyond the newest $1 of each worker, at most $2 of them a pass.
PRUNE_RUN_HISTORY = """
WITH doomed AS (
    SELECT old.id FROM pqw_persistent_worker w
    CROSS JOIN LATERAL (
        SELECT r.id FROM pqw_persistent_run r WHERE r.name = w.name
        ORDER BY r.id DESC OFFSET $1
    ) old
    LIMIT $2
)
DELETE FROM pqw_persistent_run r USING doomed WHERE r.id = doomed.id
"""

# The cleaner: config versions beyond the newest $1 of each worker, at most $2 a pass.
PRUNE_CONFIG_HISTORY = """
WITH doomed AS (
    SELECT w.name, old.version FROM pqw_persistent_worker w
    CROSS JOIN LATERAL (
        SELECT c.version FROM pqw_persistent_config c WHERE c.name = w.name
        ORDER BY c.version DESC OFFSET $1
    ) old
    LIMIT $2
)
DELETE FROM pqw_persistent_config c USING doomed
WHERE c.name = doomed.name AND c.version = doomed.version
"""
