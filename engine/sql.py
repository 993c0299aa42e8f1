"""Every SQL statement pqw runs, named: the one place to read how the data model is used.

Values are always bind parameters. JSON travels as text and is cast in SQL, so
these statements work on a caller's plain asyncpg connection too.
"""

from __future__ import annotations

# Columns of pqw_job that become a Job (engine.types.Job.from_record).
JOB_COLUMNS = """id, kind, args, queue, priority, state, attempt, max_attempts, created_at,
    scheduled_at, attempted_at, finalized_at, errors, metadata, tags, attempted_by, heartbeat_at"""

# ---------------------------------------------------------------------------
# Inserting jobs
# ---------------------------------------------------------------------------

# One statement for one row or many. A unique row that meets a live duplicate
# "updates" it to itself, which returns the existing job; xmax <> 0 tells the
# two cases apart. Rows arrive in input order (INSERT ... SELECT over unnest).
INSERT_JOBS = f"""
INSERT INTO pqw_job (state, kind, args, queue, priority, max_attempts, scheduled_at,
                     tags, metadata, unique_key, unique_states)
SELECT CASE WHEN r.scheduled_at > now() THEN 'scheduled'::pqw_job_state
            ELSE 'available'::pqw_job_state END,
       r.kind, r.args::jsonb, r.queue, r.priority, r.max_attempts,
       coalesce(r.scheduled_at, now()),
       ARRAY(SELECT jsonb_array_elements_text(r.tags::jsonb)),
       r.metadata::jsonb, r.unique_key, r.unique_states::bit(8)
FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::smallint[],
            $6::timestamptz[], $7::text[], $8::text[], $9::bytea[], $10::text[])
     AS r(kind, args, queue, priority, max_attempts, scheduled_at, tags, metadata,
          unique_key, unique_states)
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND pqw_job_state_in_bitmask(unique_states, state)
    DO UPDATE SET kind = EXCLUDED.kind
RETURNING {JOB_COLUMNS}, (xmax <> 0) AS duplicate
"""

# Ids for a COPY batch, and the transaction's now() (which is also the rows'
# created_at, the column default, as both are taken in one transaction).
RESERVE_JOB_IDS = """
SELECT array_agg(nextval('pqw_job_id_seq')) AS ids, now() AS now
FROM generate_series(1, $1)
"""

# ---------------------------------------------------------------------------
# Fetching and finishing jobs
# ---------------------------------------------------------------------------

# Lock the next available jobs of a queue (skipping ones another client is
# locking) and mark them running for this client. $4 maps kinds to their
# heartbeat timeout in seconds; $5 is the default. $6 (optional) limits the
# kinds fetched: persistent-worker queues only hand out workers this client has.
FETCH_JOBS = f"""
WITH locked AS (
    SELECT id FROM pqw_job
    WHERE state = 'available' AND queue = $1
      AND ($6::text[] IS NULL OR kind = ANY($6::text[]))
      AND NOT EXISTS (SELECT 1 FROM pqw_queue q WHERE q.name = $1 AND q.paused_at IS NOT NULL)
    ORDER BY priority, scheduled_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE pqw_job j
SET state = 'running',
    attempt = j.attempt + 1,
    attempted_at = now(),
    heartbeat_at = now(),
    attempted_by = array_append(j.attempted_by, $3::text),
    heartbeat_timeout = coalesce(($4::jsonb ->> j.kind)::float8, $5::float8) * interval '1 second'
FROM locked
WHERE j.id = locked.id
RETURNING {", ".join("j." + c.strip() for c in JOB_COLUMNS.split(","))}
"""

# One UPDATE per flush for every finished attempt, whatever its outcome. Only
# the attempt this client ran is touched: a job rescued and run elsewhere since
# is left alone. $6 are delays in seconds for retries and snoozes; $7 gives
# back the attempt a snooze did not spend.
#
# Statements that lock many jobs and wait for locks take them in id order, so
# the completer and the heartbeat can never deadlock each other. Rows are found
# by `id = ANY(...)`, which uses the primary key even before the table has
# statistics (a join with unnest may not).
COMPLETE_JOBS = """
WITH u AS (
    SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::text[], $5::text[],
                         $6::float8[], $7::smallint[])
        AS u(id, attempt, state_name, error, metadata, delay, refund)
),
locked AS (
    SELECT j.id FROM pqw_job j
    WHERE j.id = ANY($1::bigint[]) AND j.state = 'running'
    ORDER BY j.id
    FOR UPDATE
)
UPDATE pqw_job j
SET state = u.state_name::pqw_job_state,
    finalized_at = CASE WHEN u.state_name IN ('completed', 'cancelled', 'discarded')
                        THEN now() END,
    scheduled_at = CASE WHEN u.delay IS NULL THEN j.scheduled_at
                        ELSE now() + u.delay * interval '1 second' END,
    attempt = j.attempt - u.refund,
    errors = CASE WHEN u.error IS NULL THEN j.errors
                  ELSE j.errors || jsonb_build_array(u.error::jsonb) END,
    metadata = CASE WHEN u.metadata IS NULL THEN j.metadata
                    ELSE j.metadata || u.metadata::jsonb END,
    heartbeat_at = NULL
FROM u JOIN locked ON locked.id = u.id
WHERE j.id = u.id AND j.attempt = u.attempt
RETURNING j.id
"""

# Heartbeat this client's running attempts; returns those still held, and
# whether an operator asked to cancel them.
HEARTBEAT_JOBS = """
WITH locked AS (
    SELECT j.id FROM pqw_job j
    WHERE j.id = ANY($1::bigint[]) AND j.state = 'running'
    ORDER BY j.id
    FOR UPDATE
)
UPDATE pqw_job j
SET heartbeat_at = now()
FROM locked JOIN unnest($1::bigint[], $2::smallint[]) AS u(id, attempt) ON u.id = locked.id
WHERE j.id = locked.id AND j.attempt = u.attempt
RETURNING j.id, (j.metadata ? 'cancel_requested_at') AS cancel_requested
"""

# ---------------------------------------------------------------------------
# Clients (nodes)
# ---------------------------------------------------------------------------

REGISTER_CLIENT = """
INSERT INTO pqw_client (id, host, pid, queues, kinds, persistent, version)
VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL, dead_at = NULL
"""

HEARTBEAT_CLIENT = """
UPDATE pqw_client SET heartbeat_at = now(), dead_at = NULL WHERE id = $1 RETURNING id
"""

STOP_CLIENT = "UPDATE pqw_client SET stopped_at = now() WHERE id = $1"

# ---------------------------------------------------------------------------
# Queues
# ---------------------------------------------------------------------------

QUEUE_PAUSED = "SELECT paused_at IS NOT NULL FROM pqw_queue WHERE name = $1"

CONTROL_CHANNEL = "pqw_control"
INSERT_CHANNEL = "pqw_insert"
LEADER_CHANNEL = "pqw_leader"

NOTIFY = "SELECT pg_notify($1, $2)"
