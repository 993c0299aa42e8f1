"""pqw_job: inserting and fetching jobs, and an operator's reads and actions on one job (what a
running attempt writes is in attempts.py)."""

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

# One statement for one row or many. The batch arrives as one JSON array of
# rows (engine.insert_params.RowTemplate.row_json), which costs the client a
# string join instead of ten array parameters. Every input row comes back, in
# input order: with its id, state and times when it was inserted, with only
# its unique key (`key`, id NULL) when a live job holds that key already.
#
# A duplicate takes no lock and rewrites nothing (DO NOTHING, not an UPDATE
# that returns the existing row): a caller holding its transaction open must
# never hold up the heartbeats and completions of the job it duplicated. The
# caller reads the holder with UNIQUE_HOLDERS, a new statement, as under READ
# COMMITTED a holder committed by a concurrent transaction after this
# statement began is invisible to this statement.
#
# An inserted row comes back as only what the database chose (id, state,
# created_at, scheduled_at): the client builds the job from what it sent, as
# after a COPY, instead of the server encoding and the client decoding every
# column it was just given (about a quarter of the statement's time, measured
# per 1,000-row batch).
#
# Ids are drawn in `r` so each result can be matched to its input row. A
# by_period key of an unscheduled job is completed here (elements 10-12: the
# key's text around its bucket, the period in seconds) with the bucket of the
# database's now(), so hosts whose clocks disagree still agree on the key.
INSERT_JOBS = """
WITH r AS (
    SELECT nextval('pqw_job_id_seq') AS id,
           e ->> 0 AS kind, e ->> 1 AS queue, (e ->> 2)::smallint AS priority,
           (e ->> 3)::smallint AS max_attempts, (e ->> 4)::timestamptz AS scheduled_at,
           e -> 5 AS tags, e -> 6 AS metadata, (e ->> 7)::bit(8) AS unique_states,
           e -> 8 AS args,
           CASE WHEN e ->> 9 IS NOT NULL THEN decode(e ->> 9, 'hex')
                WHEN e ->> 10 IS NOT NULL THEN sha256(convert_to(
                    (e ->> 10) || (t.epoch - t.epoch % (e ->> 12)::bigint)::text || (e ->> 11),
                    'UTF8'))
           END AS unique_key,
           ord
    FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS x(e, ord)
    CROSS JOIN (SELECT floor(extract(epoch FROM now()))::bigint AS epoch) t
),
inserted AS (
    INSERT INTO pqw_job (id, state, kind, args, queue, priority, max_attempts, scheduled_at,
                         tags, metadata, unique_key, unique_states)
    SELECT r.id,
           CASE WHEN r.scheduled_at > now() THEN 'scheduled'::pqw_job_state
                ELSE 'available'::pqw_job_state END,
           r.kind, r.args, r.queue, r.priority, r.max_attempts,
           coalesce(r.scheduled_at, now()),
           ARRAY(SELECT jsonb_array_elements_text(r.tags)),
           r.metadata, r.unique_key, r.unique_states
    FROM r
    ORDER BY r.ord
    ON CONFLICT (unique_key)
        WHERE unique_key IS NOT NULL AND pqw_job_state_in_bitmask(unique_states, state)
        DO NOTHING
    RETURNING id, state, created_at, scheduled_at
)
SELECT i.*, r.unique_key AS key
FROM r LEFT JOIN inserted i ON i.id = r.id
ORDER BY r.ord
"""

# The live jobs holding these unique keys (each blocks a duplicate while its
# state is in its own unique states: the partial unique index answers).
UNIQUE_HOLDERS = f"""
SELECT {JOB_COLUMNS_JSON_AS_TEXT}, unique_key AS key FROM pqw_job
WHERE unique_key = ANY($1::bytea[]) AND pqw_job_state_in_bitmask(unique_states, state)
"""

# Ids for a COPY batch, and the transaction's now() (which is also the rows'
# created_at, the column default, as both are taken in one transaction).
RESERVE_JOB_IDS = """
SELECT array_agg(nextval('pqw_job_id_seq')) AS ids, now() AS now
FROM generate_series(1, $1)
"""


# Lock the next available jobs of a queue (skipping ones another client is
# locking) and mark them running for this client ($2). $3 maps kinds to their
# heartbeat timeout in seconds; $4 is the default. $5 (optional) limits the
# kinds fetched: persistent-worker queues only hand out workers this client has.
# $6: at most this many jobs (see fetch_jobs).
FETCH_JOBS = f"""
WITH locked AS (
    SELECT id FROM pqw_job
    WHERE state = 'available' AND queue = $1
      AND ($5::text[] IS NULL OR kind = ANY($5::text[]))
      AND NOT EXISTS (SELECT 1 FROM pqw_queue q WHERE q.name = $1 AND q.paused_at IS NOT NULL)
    ORDER BY priority, scheduled_at, id
    LIMIT $6
    FOR UPDATE SKIP LOCKED
)
UPDATE pqw_job j
SET state = 'running',
    attempt = j.attempt + 1,
    attempted_at = now(),
    heartbeat_at = now(),
    attempted_by = array_append(j.attempted_by, $2::text),
    heartbeat_timeout = coalesce(($3::text::jsonb ->> j.kind)::float8, $4::float8) * interval '1 second'
FROM locked
WHERE j.id = locked.id
RETURNING {", ".join("j." + c.strip() for c in JOB_COLUMNS.split(","))}
"""

# With the limit a bind parameter, the planner cannot know how many rows the
# statement locks and guesses a tenth of the queue: its generic plan scans the
# whole table, so Postgres plans the statement afresh on every fetch, and that
# planning was a third of the fetch's server time (0.5 of 1.4 ms, measured on
# batches of 16). With the limit written into the text, each limit is a
# statement of its own whose generic plan is the custom one: after its first
# five runs it is planned no more (server time per fetch of 16: 2.26 to 1.70
# ms, alternating runs). Limits above this many share the statement with a
# parameter ($6): few distinct statements per connection, and planning matters
# less when it is shared by that many jobs.
FETCH_LIMITS_IN_TEXT = 64

_FETCH_JOBS_UP_TO = {
    n: FETCH_JOBS.replace("LIMIT $6\n", f"LIMIT {n}\n") for n in range(1, FETCH_LIMITS_IN_TEXT + 1)
}


def fetch_jobs(limit: int) -> tuple[str, tuple[int, ...]]:
    """The statement that fetches at most `limit` jobs, and what it takes after $5: the
    limit written into the statement when it is small, else as $6."""
    statement = _FETCH_JOBS_UP_TO.get(limit)
    if statement is not None:
        return statement, ()
    return FETCH_JOBS, (limit,)


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

# Running jobs with their lease, longest-running first, pqw's own kinds ($1 is
# their prefix) left out (persistent runs show as workers): what the dashboard
# shows of long jobs. $2: running at least this many seconds; $3: how many.
LIST_RUNNING_JOBS = f"""
SELECT {", ".join("j." + c.strip() for c in JOB_COLUMNS.split(","))}, now() AS now,
       extract(epoch FROM j.heartbeat_timeout)::float8 AS heartbeat_timeout_s,
       j.attempted_by[array_length(j.attempted_by, 1)] AS runner_id, c.host, c.pid
FROM pqw_job j
LEFT JOIN pqw_client c ON c.id = j.attempted_by[array_length(j.attempted_by, 1)]
WHERE j.state = 'running' AND NOT starts_with(j.kind, $1)
  AND j.attempted_at <= now() - $2 * interval '1 second'
ORDER BY j.attempted_at, j.id
LIMIT $3
"""

# An operator's bulk action on a batch of jobs ($1: their ids, at most a batch).
# Rows someone else has locked (a worker completing them) are skipped, never
# waited for: the batch ends at once and the table is never locked. Each
# returns the ids it acted on; running jobs are never retried or deleted.
CANCEL_JOBS = """
WITH locked AS (
    SELECT id FROM pqw_job
    WHERE id = ANY($1::bigint[]) AND state NOT IN ('completed', 'cancelled', 'discarded')
    ORDER BY id
    FOR UPDATE SKIP LOCKED
)
UPDATE pqw_job j
SET state = CASE WHEN j.state = 'running' THEN j.state ELSE 'cancelled'::pqw_job_state END,
    finalized_at = CASE WHEN j.state = 'running' THEN NULL ELSE now() END,
    metadata = j.metadata || jsonb_build_object('cancel_requested_at', now())
FROM locked WHERE j.id = locked.id
RETURNING j.id, j.state = 'running' AS running
"""

RETRY_JOBS = """
WITH locked AS (
    SELECT id FROM pqw_job
    WHERE id = ANY($1::bigint[]) AND state <> 'running'
    ORDER BY id
    FOR UPDATE SKIP LOCKED
)
UPDATE pqw_job j
SET state = 'available', scheduled_at = now(), finalized_at = NULL,
    max_attempts = greatest(j.max_attempts, j.attempt + 1),
    metadata = j.metadata - 'cancel_requested_at'
FROM locked WHERE j.id = locked.id
RETURNING j.id, false AS running
"""

DELETE_JOBS = """
WITH locked AS (
    SELECT id FROM pqw_job
    WHERE id = ANY($1::bigint[]) AND state <> 'running'
    ORDER BY id
    FOR UPDATE SKIP LOCKED
)
DELETE FROM pqw_job j USING locked WHERE j.id = locked.id
RETURNING j.id, false AS running
"""

# Whether this session may change jobs: a role with SELECT only gets a
# read-only dashboard instead of errors on every key.
CAN_WRITE = """
SELECT has_table_privilege('pqw_job', 'UPDATE')
   AND has_table_privilege('pqw_job', 'DELETE')
   AND has_table_privilege('pqw_queue', 'INSERT')
   AND has_table_privilege('pqw_queue', 'UPDATE') AS can_write
"""
