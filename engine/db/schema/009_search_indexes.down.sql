DROP INDEX pqw_job_queue_failed_idx;
DROP INDEX pqw_job_failed_idx;
DROP INDEX pqw_job_kind_idx;
