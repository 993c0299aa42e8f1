"""Helpers for testing code that uses pqw: run a handler with no client and no database,
assert what was inserted, drain a queue in a test, run a persistent worker's loop
for N iterations with a fake context; and, as a pytest plugin (loaded by itself
once pqw is installed), a migrated throwaway database per test on the embedded
Postgres (engine/testing/pytest_plugin.py)."""

from engine.testing.assertions import assert_inserted, assert_not_inserted, inserted_jobs
from engine.testing.drain import drain_queue
from engine.testing.outcome import JobOutcome
from engine.testing.persistent import FakeContext, PersistentOutcome, run_persistent
from engine.testing.run_job import run_job

__all__ = [
    "FakeContext",
    "JobOutcome",
    "PersistentOutcome",
    "assert_inserted",
    "assert_not_inserted",
    "drain_queue",
    "inserted_jobs",
    "run_job",
    "run_persistent",
]
