-- pqw schema, version 4: what closes the holes in "one copy, nothing lost".

-- The jobs a client holds (running, or finished with the outcome not written
-- yet), written with each of its heartbeats. The rescuer leaves a job alone
-- while the client running it is alive and still holds it, even when the job's
-- own heartbeat is late because someone else keeps a lock on its row.
ALTER TABLE pqw_client ADD COLUMN held_jobs bigint[] NOT NULL DEFAULT '{}';

-- How the last run of a persistent worker ended (returned, crash, stop, ...):
-- with consecutive_failures it tells an operator that a worker keeps ending.
ALTER TABLE pqw_persistent_worker ADD COLUMN last_end_reason text;
