DROP TABLE pqw_periodic_job;
DROP TABLE pqw_persistent_worker;
DROP TABLE pqw_client;
DROP TABLE pqw_leader;
DROP TABLE pqw_queue;
DROP TABLE pqw_job;
DROP FUNCTION pqw_job_notify_insert();
DROP FUNCTION pqw_job_state_in_bitmask(bit(8), pqw_job_state);
DROP TYPE pqw_job_state;
