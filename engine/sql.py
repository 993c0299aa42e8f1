"""Every SQL statement pqw runs, named: the one place to read how the data model is used.

Values are always bind parameters. JSON travels as text and is cast in SQL, so
these statements work on a caller's plain asyncpg connection too.
"""

from __future__ import annotations

# Columns of pqw_job that become a Job (engine.types.Job.from_record).
JOB_COLUMNS = """id, kind, args, queue, priority, state, attempt, max_attempts, created_at,
    scheduled_at, attempted_at, finalized_at, errors, metadata, tags, attempted_by, heartbeat_at"""

# The same, with the JSON columns as text: a batch insert decodes them only for
# the results its caller reads (Job.from_record accepts both).
JOB_COLUMNS_JSON_AS_TEXT = (
    JOB_COLUMNS.replace(" args,", " args::text AS args,")
    .replace(" errors,", " errors::text AS errors,")
    .replace(" metadata,", " metadata::text AS metadata,")
)

# ---------------------------------------------------------------------------
# Inserting jobs
# ---------------------------------------------------------------------------

# One statement for one row or many. The batch arrives as one JSON array of
# rows (engine.insert_params.RowTemplate.row_json), which costs the client a
# string join instead of ten array parameters. A unique row that meets a live
# duplicate "updates" it to itself, which returns the existing job; xmax <> 0
# tells the two cases apart. Rows are inserted, and returned, in input order.
INSERT_JOBS = f"""
WITH r AS (
    SELECT e ->> 0 AS kind, e ->> 1 AS queue, (e ->> 2)::smallint AS priority,
           (e ->> 3)::smallint AS max_attempts, (e ->> 4)::timestamptz AS scheduled_at,
           e -> 5 AS tags, e -> 6 AS metadata, (e ->> 7)::bit(8) AS unique_states,
           e -> 8 AS args, decode(e ->> 9, 'hex') AS unique_key, ord
    FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS x(e, ord)
)
INSERT INTO pqw_job (state, kind, args, queue, priority, max_attempts, scheduled_at,
                     tags, metadata, unique_key, unique_states)
SELECT CASE WHEN r.scheduled_at > now() THEN 'scheduled'::pqw_job_state
            ELSE 'available'::pqw_job_state END,
       r.kind, r.args, r.queue, r.priority, r.max_attempts,
       coalesce(r.scheduled_at, now()),
       ARRAY(SELECT jsonb_array_elements_text(r.tags)),
       r.metadata, r.unique_key, r.unique_states
FROM r
ORDER BY r.ord
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND pqw_job_state_in_bitmask(unique_states, state)
    DO UPDATE SET kind = EXCLUDED.kind
RETURNING {JOB_COLUMNS_JSON_AS_TEXT}, (xmax <> 0) AS duplicate
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
    heartbeat_timeout = coalesce(($4::text::jsonb ->> j.kind)::float8, $5::float8) * interval '1 second'
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
# none (checked first, so a pass over running workers writes nothing); the
# unique index makes a concurrent insert of the same run a no-op.
INSERT_DUE_RUNS = """
INSERT INTO pqw_job (kind, queue, args, max_attempts, priority, unique_key, unique_states,
                     metadata)
SELECT 'pqw.persistent:' || w.name, w.queue, jsonb_build_object('worker', w.name), 1, 0,
       sha256(convert_to('pqw.persistent:' || w.name, 'UTF8')), $2::text::bit(8),
       jsonb_build_object('config_version', w.config_version)
FROM pqw_persistent_worker w
WHERE w.enabled AND w.next_run_at <= now() AND ($1::text IS NULL OR w.name = $1)
  AND NOT EXISTS (
      SELECT 1 FROM pqw_job j
      WHERE j.unique_key = sha256(convert_to('pqw.persistent:' || w.name, 'UTF8'))
        AND pqw_job_state_in_bitmask(j.unique_states, j.state))
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

# ---------------------------------------------------------------------------
# Leadership
# ---------------------------------------------------------------------------

# The lease is one row. Its holder renews it with an UPDATE that changes no key
# (a no-key lock); a follower takes it over only once it has expired, by
# DELETE then INSERT. Fenced passes hold FOR KEY SHARE on the row: that lock
# lets the holder's renewals through but makes a takeover's DELETE wait until
# every pass under way has committed, so a paused or partitioned former leader
# can never write after another client was elected, and renewals never queue
# behind passes.
RENEW_LEADERSHIP = """
UPDATE pqw_leader SET expires_at = now() + $2 * interval '1 second'
WHERE name = 'default' AND leader_id = $1
RETURNING leader_id
"""

READ_LEADERSHIP = (
    "SELECT leader_id, expires_at > now() AS valid FROM pqw_leader WHERE name = 'default'"
)

TAKE_EXPIRED_LEADERSHIP = "DELETE FROM pqw_leader WHERE name = 'default' AND expires_at <= now()"

CLAIM_LEADERSHIP = """
INSERT INTO pqw_leader (name, leader_id, elected_at, expires_at)
VALUES ('default', $1, now(), now() + $2 * interval '1 second')
ON CONFLICT (name) DO NOTHING
RETURNING leader_id
"""

# The fence every leader-only pass runs behind, in the pass's own transaction:
# it holds only while this client's lease is unexpired (see above for the lock).
FENCE_LEADERSHIP = """
SELECT 1 FROM pqw_leader WHERE leader_id = $1 AND expires_at > now() FOR KEY SHARE
"""

RESIGN_LEADERSHIP = "DELETE FROM pqw_leader WHERE leader_id = $1 RETURNING leader_id"

# ---------------------------------------------------------------------------
# Maintenance (leader only)
# ---------------------------------------------------------------------------

# Scheduled and retryable jobs whose time has come become available. A job
# that would collide with a live holder of its unique key (possible only when
# its own unique states leave out its current state) is discarded with a note
# instead, so the unique index is never violated. Producers are woken per queue.
SCHEDULE_DUE_JOBS = """
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
    SELECT pg_notify('pqw_insert', q.queue) FROM (SELECT DISTINCT queue FROM made) q
)
SELECT (SELECT count(*) FROM made) AS made,
       (SELECT count(*) FROM discarded) AS discarded,
       (SELECT count(*) FROM woken) AS woken
"""

# Running jobs whose runner stopped heartbeating go back to retryable (or
# discarded when out of attempts, cancelled when cancellation was asked for),
# with an error entry naming the client. A lost persistent-worker run is
# recorded on its worker so the supervisor starts the next one at once.
RESCUE_STALE_JOBS = """
WITH stale AS (
    SELECT id FROM pqw_job
    WHERE state = 'running'
      AND heartbeat_at < now() - coalesce(heartbeat_timeout, $2 * interval '1 second')
    ORDER BY heartbeat_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
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
    RETURNING j.id, j.kind, j.state::text AS state,
              j.attempted_by[array_length(j.attempted_by, 1)] AS client_id
),
lost_runs AS (
    UPDATE pqw_persistent_worker w
    SET restarts = w.restarts + 1, next_run_at = now(), last_run_ended_at = now(),
        last_error = format('runner %s lost: no heartbeat within %s', r.client_id,
                            w.heartbeat_timeout),
        last_error_at = now()
    FROM rescued r
    WHERE r.kind = 'pqw.persistent:' || w.name
    RETURNING w.name
)
SELECT r.*, (SELECT count(*) FROM lost_runs) AS lost_runs FROM rescued r
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

MARK_DEAD_CLIENTS = """
UPDATE pqw_client SET dead_at = now()
WHERE dead_at IS NULL AND stopped_at IS NULL
  AND heartbeat_at < now() - $1 * interval '1 second'
RETURNING id
"""

PRUNE_CLIENTS = """
DELETE FROM pqw_client
WHERE coalesce(stopped_at, dead_at) < now() - $1 * interval '1 second'
"""

# ---------------------------------------------------------------------------
# Periodic schedules
# ---------------------------------------------------------------------------

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

# ---------------------------------------------------------------------------
# Persistent workers
# ---------------------------------------------------------------------------

# Code supplies defaults; the row is the source of truth once it exists. An
# operator's config (config_updated_by set) is never overwritten; a config
# nobody changed follows the code.
UPSERT_PERSISTENT_WORKER = """
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
"""

# The run starts: count it, say where, hand back the desired state. Nothing
# happens unless the attempt is still ours.
CLAIM_RUN = """
UPDATE pqw_persistent_worker w
SET runs = w.runs + 1, run_started_at = now(), last_client_id = $3,
    progress = NULL, progress_at = NULL
WHERE w.name = $4
  AND EXISTS (SELECT 1 FROM pqw_job j WHERE j.id = $1 AND j.attempt = $2 AND j.state = 'running')
RETURNING w.enabled, w.config, w.config_version, w.restart_requested_at, w.run_started_at,
          w.runs
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

# What the run's end means for the worker. $2: the run crashed; $3: it had run
# long enough to count as healthy (backoff starts again at 1 s); crashes back
# off 1 s doubling to 60 s; $4: delay otherwise; $5: it counts as a restart.
FINISH_RUN_WORKER = """
UPDATE pqw_persistent_worker w
SET last_run_ended_at = now(),
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
