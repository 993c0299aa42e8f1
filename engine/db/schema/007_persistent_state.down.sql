DROP TABLE pqw_persistent_config;
ALTER TABLE pqw_persistent_worker DROP COLUMN log_seq;
DROP TABLE pqw_persistent_log;
DROP TABLE pqw_persistent_run;
DROP TABLE pqw_persistent_state;
