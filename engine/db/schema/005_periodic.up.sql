-- pqw schema, version 5: a periodic schedule's row is its whole definition, so any
-- leader keeps every enabled schedule (not only those it defines in code), and it
-- says what its last tick did.

ALTER TABLE pqw_periodic_job
    -- The schedule in a form any leader evaluates: {"every": seconds} or
    -- {"cron": expression, "tz": zone}. NULL only for a row nobody can read.
    ADD COLUMN spec          jsonb,
    -- What the last tick did: inserted its job, or skipped it because the job's
    -- own unique options found a live duplicate (last_job_id is that job).
    ADD COLUMN last_outcome  text CHECK (last_outcome IN ('inserted', 'skipped')),
    ADD COLUMN skips         bigint NOT NULL DEFAULT 0,
    -- Why no leader can keep this schedule (a row it cannot evaluate).
    ADD COLUMN last_error    text,
    ADD COLUMN last_error_at timestamptz;

-- Rows written before: their schedule text is what every(...) and cron(...)
-- describe ("every 30s", "cron 0 2 * * * Europe/Berlin").
UPDATE pqw_periodic_job
SET spec = CASE
    WHEN schedule ~ '^every [0-9.e+]+s$'
        THEN jsonb_build_object('every', substring(schedule FROM '^every ([0-9.e+]+)s$')::float8)
    WHEN schedule ~ '^cron .+ [^ ]+$'
        THEN jsonb_build_object('cron', substring(schedule FROM '^cron (.+) [^ ]+$'),
                                'tz', substring(schedule FROM ' ([^ ]+)$'))
END;
