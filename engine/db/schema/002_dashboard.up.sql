-- pqw schema, version 2: what the dashboard reads cheaply at any table size.

-- Completed and failed attempts per second per client, written by each
-- client's completer with its batch (one row per client per second, so
-- clients never contend), read as a throughput sparkline, pruned by the cleaner.
CREATE TABLE pqw_throughput (
    second    timestamptz NOT NULL,
    client_id text NOT NULL,
    completed integer NOT NULL DEFAULT 0,
    failed    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (second, client_id)
);

-- The planner's estimate of how many jobs of a queue are in a state. Exact
-- counts above a threshold would scan millions of rows; the dashboard shows
-- these as estimates. Values are quoted with %L, never spliced raw. (VOLATILE:
-- PostgreSQL allows EXPLAIN only there.)
CREATE FUNCTION pqw_job_count_estimate(queue_name text, job_state pqw_job_state)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE format(
        'EXPLAIN (FORMAT JSON) SELECT 1 FROM pqw_job WHERE queue = %L AND state = %L',
        queue_name, job_state
    ) INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END
$$;
