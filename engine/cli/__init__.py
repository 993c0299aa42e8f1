"""The `pqw` command: migrate, worker, demo, queue, persistent, bench."""

from engine.cli.main import main

__all__ = ["main"]
