ALTER TABLE pqw_periodic_job
    DROP COLUMN spec,
    DROP COLUMN last_outcome,
    DROP COLUMN skips,
    DROP COLUMN last_error,
    DROP COLUMN last_error_at;
