"""Tests of the `pqw` operator command line, run in-process against the real database."""
