"""The `pqw` command: migrate, worker, demo, jobs, workers, queues, periodic, clients, bench."""

from engine.cli.main import main

__all__ = ["main"]
