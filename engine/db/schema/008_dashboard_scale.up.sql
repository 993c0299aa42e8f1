-- pqw schema, version 8: exact job counts at any table size, read in one cheap query;
-- a jobs list that pages by index whatever the filter; live queue concurrency.

-- Jobs per queue and state, exact. Kept by the statement-level triggers below in
-- the same transaction as the change, so a count is exact as of the reader's
-- snapshot. A trigger never updates a shared counter row (every fetch, completion
-- and insert would queue on it, and an open transaction that inserted a job would
-- hold up every other insert of its queue until it commits): it appends delta rows
-- to pqw_job_count_delta instead, which takes no lock anyone else waits for. The
-- leader folds the deltas into pqw_job_count every second (COMPACT_JOB_COUNTS);
-- a count is the base row plus the deltas not folded yet.
CREATE TABLE pqw_job_count (
    queue text NOT NULL,
    state pqw_job_state NOT NULL,
    n     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, state)
);

-- Insert-only until folded; read and deleted whole, so no index. `entered`
-- counts the rows that entered the state (for the per-queue failure rate).
CREATE TABLE pqw_job_count_delta (
    queue   text NOT NULL,
    state   pqw_job_state NOT NULL,
    delta   bigint NOT NULL,
    entered bigint NOT NULL DEFAULT 0,
    at      timestamptz NOT NULL DEFAULT now()
);

-- Jobs that finished an attempt per queue per minute (completed, or failed:
-- retryable or discarded), folded from the deltas; the leader keeps an hour.
CREATE TABLE pqw_queue_outcome (
    minute    timestamptz NOT NULL,
    queue     text NOT NULL,
    completed bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, queue)
);

CREATE FUNCTION pqw_job_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pqw_job_count_delta (queue, state, delta, entered)
    SELECT queue, state, count(*), count(*) FROM pqw_new_jobs GROUP BY queue, state;
    RETURN NULL;
END
$$;

CREATE FUNCTION pqw_job_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only rows whose queue or state changed count (a heartbeat changes neither).
    INSERT INTO pqw_job_count_delta (queue, state, delta, entered)
    SELECT m.queue, m.state, sum(m.delta), sum(m.entered)
    FROM pqw_old_jobs o
    JOIN pqw_new_jobs n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES (o.queue, o.state, -1, 0), (n.queue, n.state, 1, 1))
        AS m(queue, state, delta, entered)
    WHERE o.state IS DISTINCT FROM n.state OR o.queue IS DISTINCT FROM n.queue
    GROUP BY m.queue, m.state;
    RETURN NULL;
END
$$;

CREATE FUNCTION pqw_job_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pqw_job_count_delta (queue, state, delta)
    SELECT queue, state, -count(*) FROM pqw_old_jobs GROUP BY queue, state;
    RETURN NULL;
END
$$;

CREATE FUNCTION pqw_job_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM pqw_job_count_delta;
    DELETE FROM pqw_job_count;
    RETURN NULL;
END
$$;

CREATE TRIGGER pqw_job_count_inserted AFTER INSERT ON pqw_job
    REFERENCING NEW TABLE AS pqw_new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION pqw_job_count_inserted();
CREATE TRIGGER pqw_job_count_updated AFTER UPDATE ON pqw_job
    REFERENCING OLD TABLE AS pqw_old_jobs NEW TABLE AS pqw_new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION pqw_job_count_updated();
CREATE TRIGGER pqw_job_count_deleted AFTER DELETE ON pqw_job
    REFERENCING OLD TABLE AS pqw_old_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION pqw_job_count_deleted();
CREATE TRIGGER pqw_job_count_truncated AFTER TRUNCATE ON pqw_job
    FOR EACH STATEMENT EXECUTE FUNCTION pqw_job_count_truncated();

-- The jobs already there. CREATE TRIGGER above holds a lock that keeps writers
-- out until this transaction commits, so no change is missed or counted twice.
INSERT INTO pqw_job_count (queue, state, n)
SELECT queue, state, count(*) FROM pqw_job GROUP BY queue, state;

-- The jobs list pages a queue's jobs of one state newest first straight from
-- the index (and every state's, by merging them): it replaces the (queue,
-- state) index, whose loose scan the counts no longer need.
CREATE INDEX pqw_job_queue_state_id_idx ON pqw_job (queue, state, id);
DROP INDEX pqw_job_queue_state_idx;
DROP FUNCTION pqw_job_count_estimate(text, pqw_job_state);

-- A queue's concurrency per client, set live by an operator (NULL: each client's
-- own, from its code); every client working the queue applies it within a second.
ALTER TABLE pqw_queue ADD COLUMN concurrency integer
    CHECK (concurrency IS NULL OR concurrency BETWEEN 0 AND 10000);
