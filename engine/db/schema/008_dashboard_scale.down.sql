ALTER TABLE pqw_queue DROP COLUMN concurrency;

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

CREATE INDEX pqw_job_queue_state_idx ON pqw_job (queue, state);
DROP INDEX pqw_job_queue_state_id_idx;

DROP TRIGGER pqw_job_count_truncated ON pqw_job;
DROP TRIGGER pqw_job_count_deleted ON pqw_job;
DROP TRIGGER pqw_job_count_updated ON pqw_job;
DROP TRIGGER pqw_job_count_inserted ON pqw_job;
DROP FUNCTION pqw_job_count_truncated();
DROP FUNCTION pqw_job_count_deleted();
DROP FUNCTION pqw_job_count_updated();
DROP FUNCTION pqw_job_count_inserted();
DROP TABLE pqw_queue_outcome;
DROP TABLE pqw_job_count_delta;
DROP TABLE pqw_job_count;
