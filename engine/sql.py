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
# back the attempt a snooze did not spend; $8 is this client, whose per-second
# throughput row counts the batch.
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
),
done AS (
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
    RETURNING j.id, j.state
),
counted AS (
    INSERT INTO pqw_throughput AS t (second, client_id, completed, failed)
    SELECT date_trunc('second', now()), $8::text,
           count(*) FILTER (WHERE state = 'completed'),
           count(*) FILTER (WHERE state IN ('retryable', 'discarded'))
    FROM done
    HAVING count(*) > 0
    ON CONFLICT (second, client_id) DO UPDATE
        SET completed = t.completed + EXCLUDED.completed, failed = t.failed + EXCLUDED.failed
)
SELECT id FROM done
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

# ---------------------------------------------------------------------------
# Operator reads and actions (engine.admin)
# ---------------------------------------------------------------------------

GET_JOB = f"SELECT {JOB_COLUMNS} FROM pqw_job WHERE id = $1"

LIST_JOBS = f"""
SELECT {JOB_COLUMNS} FROM pqw_job
WHERE ($1::text IS NULL OR queue = $1)
  AND ($2::pqw_job_state IS NULL OR state = $2)
  AND ($3::text IS NULL OR kind = $3)
  AND ($4::bigint IS NULL OR id < $4)
ORDER BY id DESC
LIMIT $5
"""

# Jobs waiting to run are cancelled at once; a running job is marked, and its
# runner (told by a control message, or at its next heartbeat) cancels it.
CANCEL_JOB = f"""
UPDATE pqw_job
SET state = CASE WHEN state = 'running' THEN state ELSE 'cancelled'::pqw_job_state END,
    finalized_at = CASE WHEN state = 'running' THEN NULL ELSE now() END,
    metadata = metadata || jsonb_build_object('cancel_requested_at', now())
WHERE id = $1 AND state NOT IN ('completed', 'cancelled', 'discarded')
RETURNING {JOB_COLUMNS}
"""

# Run a job again now; it gets one more attempt if it had spent them all.
RETRY_JOB = f"""
UPDATE pqw_job
SET state = 'available', scheduled_at = now(), finalized_at = NULL,
    max_attempts = greatest(max_attempts, attempt + 1),
    metadata = metadata - 'cancel_requested_at'
WHERE id = $1 AND state <> 'running'
RETURNING {JOB_COLUMNS}
"""

DELETE_JOB = f"DELETE FROM pqw_job WHERE id = $1 AND state <> 'running' RETURNING {JOB_COLUMNS}"

# Queues known anywhere: in jobs (a loose index scan: one probe per distinct
# queue, not a scan of the table), in pqw_queue, and in live clients.
KNOWN_QUEUES_CTE = """
WITH RECURSIVE job_queues AS (
    (SELECT queue FROM pqw_job ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT j.queue FROM pqw_job j WHERE j.queue > q.queue ORDER BY j.queue LIMIT 1)
    FROM job_queues q WHERE q.queue IS NOT NULL
),
names AS (
    SELECT queue AS name FROM job_queues WHERE queue IS NOT NULL
    UNION SELECT name FROM pqw_queue
    UNION SELECT jsonb_object_keys(queues) FROM pqw_client
        WHERE stopped_at IS NULL AND dead_at IS NULL
)"""

# Exact counts up to $1 per queue and state (an index-only probe each), the
# planner's estimate above that: fast at any table size.
QUEUE_STATE_COUNTS = f"""
{KNOWN_QUEUES_CTE},
capped AS (
    SELECT n.name, s.state,
           (SELECT count(*) FROM (SELECT 1 FROM pqw_job j
                                  WHERE j.queue = n.name AND j.state = s.state
                                  LIMIT $1) x) AS n
    FROM names n CROSS JOIN unnest(enum_range(NULL::pqw_job_state)) AS s(state)
)
SELECT c.name AS queue, c.state::text AS state,
       CASE WHEN c.n >= $1 THEN greatest(c.n, pqw_job_count_estimate(c.name, c.state))
            ELSE c.n END AS count,
       c.n >= $1 AS estimated,
       coalesce(q.paused_at IS NOT NULL, false) AS paused
FROM capped c LEFT JOIN pqw_queue q ON q.name = c.name
ORDER BY c.name
"""

PAUSE_QUEUE = """
INSERT INTO pqw_queue (name, paused_at) VALUES ($1, now())
ON CONFLICT (name) DO UPDATE SET paused_at = coalesce(pqw_queue.paused_at, now()), updated_at = now()
"""

RESUME_QUEUE = """
INSERT INTO pqw_queue (name, paused_at) VALUES ($1, NULL)
ON CONFLICT (name) DO UPDATE SET paused_at = NULL, updated_at = now()
"""

# A client counts as alive while it heartbeats; $1 is how stale it may get.
LIST_CLIENTS = """
SELECT c.*, now() AS now,
       (c.stopped_at IS NULL AND c.dead_at IS NULL
        AND c.heartbeat_at > now() - $1 * interval '1 second') AS alive,
       coalesce(l.leader_id = c.id AND l.expires_at > now(), false) AS is_leader
FROM pqw_client c
LEFT JOIN pqw_leader l ON true
WHERE $2 OR c.stopped_at IS NULL
ORDER BY c.started_at, c.id
"""

GET_LEADER = """
SELECT leader_id, elected_at, expires_at, expires_at > now() AS valid FROM pqw_leader
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
    WHERE j.unique_key = sha256(convert_to('pqw.persistent:' || w.name, 'UTF8'))
      AND pqw_job_state_in_bitmask(j.unique_states, j.state)
    LIMIT 1
) j ON true
LEFT JOIN pqw_client c ON c.id = j.runner_id AND j.state = 'running'
WHERE $2::text IS NULL OR w.name = $2
ORDER BY w.name
"""

WORKER_EXISTS = "SELECT config_schema FROM pqw_persistent_worker WHERE name = $1"

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
WHERE unique_key = sha256(convert_to('pqw.persistent:' || $1, 'UTF8'))
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

SET_WORKER_CONFIG = """
UPDATE pqw_persistent_worker
SET config = $2::text::jsonb, config_version = config_version + 1,
    config_updated_by = $3, updated_at = now(), updated_by = $3
WHERE name = $1
RETURNING config_version
"""

# Insert the live run of every enabled worker (or only $1) that is due and has
# none; the unique index makes a concurrent insert of the same run a no-op.
INSERT_DUE_RUNS = """
INSERT INTO pqw_job (kind, queue, args, max_attempts, priority, unique_key, unique_states,
                     metadata)
SELECT 'pqw.persistent:' || w.name, w.queue, jsonb_build_object('worker', w.name), 1, 0,
       sha256(convert_to('pqw.persistent:' || w.name, 'UTF8')), $2::text::bit(8),
       jsonb_build_object('config_version', w.config_version)
FROM pqw_persistent_worker w
WHERE w.enabled AND w.next_run_at <= now() AND ($1::text IS NULL OR w.name = $1)
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND pqw_job_state_in_bitmask(unique_states, state)
    DO NOTHING
RETURNING id, kind
"""

THROUGHPUT = """
SELECT extract(epoch FROM second)::bigint AS second, sum(completed)::bigint AS completed,
       extract(epoch FROM date_trunc('second', now()))::bigint AS now_second
FROM pqw_throughput
WHERE second > now() - $1 * interval '1 second'
GROUP BY second
"""

NOW = "SELECT now()"

NOW_SECOND = "SELECT extract(epoch FROM date_trunc('second', now()))::bigint"

LIST_PERIODIC = """
SELECT id, kind, schedule, args, enabled, next_run_at, last_run_at, last_job_id
FROM pqw_periodic_job ORDER BY id
"""

SET_PERIODIC_ENABLED = """
UPDATE pqw_periodic_job SET enabled = $2, updated_at = now() WHERE id = $1 RETURNING id
"""
