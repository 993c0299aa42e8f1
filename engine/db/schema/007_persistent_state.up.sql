-- pqw schema, version 7: persistent workers that remember. Each worker keeps the state
-- its runs checkpoint, the history of its runs, a bounded ring of the lines they log,
-- and every version of its config with who made it. All of it goes with the worker's row.

-- The last checkpoint of each worker, written by its running run (fenced by the run's
-- lease) and handed to the next run as it starts. A reset clears it (state NULL).
CREATE TABLE pqw_persistent_state (
    name            text PRIMARY KEY
                    REFERENCES pqw_persistent_worker (name) ON DELETE CASCADE,
    state           jsonb,
    -- Bumped by every checkpoint and reset: a reader that has this version has the state.
    version         bigint NOT NULL DEFAULT 1,
    size            integer NOT NULL DEFAULT 0,  -- bytes of the state's JSON text
    run             integer,                     -- the run that wrote it
    job_id          bigint,
    client_id       text,
    checkpointed_at timestamptz,
    reset_at        timestamptz,
    reset_by        text
);

-- Every run of a worker: when it started, where, with which config, and how it ended
-- (returned, stop, restart, config, cancel, shutdown, crash, lease lost, rescued).
-- The cleaner keeps the last runs of each worker (engine/persistent/memory.py).
CREATE TABLE pqw_persistent_run (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL REFERENCES pqw_persistent_worker (name) ON DELETE CASCADE,
    run            integer NOT NULL,  -- the worker's run number (ctx.run)
    job_id         bigint NOT NULL,
    attempt        smallint NOT NULL,
    client_id      text NOT NULL,
    host           text,              -- copied: clients are pruned, their runs' story stays
    pid            integer,
    config_version integer NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    ended_at       timestamptz,
    end_reason     text,
    error          text,
    CONSTRAINT pqw_persistent_run_ended CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);

CREATE INDEX pqw_persistent_run_name_idx ON pqw_persistent_run (name, id);
-- A run's end is written by (job id, attempt): by the run itself or by the rescuer.
CREATE INDEX pqw_persistent_run_job_idx ON pqw_persistent_run (job_id) WHERE ended_at IS NULL;

-- The lines each worker's runs log, as a ring: line `seq` lives in slot seq % ring size,
-- so a worker never holds more than the ring, however much its runs log.
CREATE TABLE pqw_persistent_log (
    name    text NOT NULL REFERENCES pqw_persistent_worker (name) ON DELETE CASCADE,
    slot    integer NOT NULL,
    seq     bigint NOT NULL,
    run     integer NOT NULL,
    at      timestamptz NOT NULL,
    level   smallint NOT NULL,
    logger  text NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (name, slot)
);

CREATE INDEX pqw_persistent_log_seq_idx ON pqw_persistent_log (name, seq);

-- The last line number handed out for the worker's log.
ALTER TABLE pqw_persistent_worker ADD COLUMN log_seq bigint NOT NULL DEFAULT 0;

-- Every config version of a worker, with who made it: an operator (user@host, from the
-- dashboard or the CLI) or "code default". The cleaner keeps the last versions.
CREATE TABLE pqw_persistent_config (
    name       text NOT NULL REFERENCES pqw_persistent_worker (name) ON DELETE CASCADE,
    version    integer NOT NULL,
    config     jsonb NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

-- Workers made before: their current version is the first one known.
INSERT INTO pqw_persistent_config (name, version, config, changed_by, changed_at)
SELECT name, config_version, config, coalesce(config_updated_by, 'code default'), updated_at
FROM pqw_persistent_worker;
