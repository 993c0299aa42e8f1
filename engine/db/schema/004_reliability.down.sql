ALTER TABLE pqw_persistent_worker DROP COLUMN last_end_reason;
ALTER TABLE pqw_client DROP COLUMN held_jobs;
