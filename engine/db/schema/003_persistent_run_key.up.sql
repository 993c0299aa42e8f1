-- pqw schema, version 3: a persistent worker's run kind and run key, named once.

-- The job kind of a persistent worker's runs.
CREATE FUNCTION pqw_persistent_kind(worker_name text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'pqw.persistent:' || worker_name
$$;

-- The unique key every live run of a worker shares, so at most one exists. An
-- IMMUTABLE SQL function is inlined by the planner, so a lookup by it still
-- uses the partial unique index.
CREATE FUNCTION pqw_persistent_run_key(worker_name text)
RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(pqw_persistent_kind(worker_name), 'UTF8'))
$$;
