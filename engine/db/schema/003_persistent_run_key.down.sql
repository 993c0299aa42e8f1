DROP FUNCTION pqw_persistent_run_key(text);
DROP FUNCTION pqw_persistent_kind(text);
