DROP FUNCTION pqw_job_count_estimate(text, pqw_job_state);
DROP TABLE pqw_throughput;
