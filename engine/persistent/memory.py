"""How much a persistent worker remembers: the bounds on its state, its run history, its
log ring and its config versions (the README's "What a worker remembers")."""

from __future__ import annotations

# A checkpoint's JSON text may be this many bytes (UTF-8): offsets, cursors and small
# bookkeeping, not data. A larger one is refused with InvalidCheckpoint.
MAX_STATE_BYTES = 256 * 1024

# The cleaner keeps this many of each worker's newest runs, and config versions.
RUNS_KEPT = 100
CONFIG_VERSIONS_KEPT = 50

# Each worker's log is a ring of this many lines in the database: the newest overwrite
# the oldest, so a worker never holds more, however much its runs log.
LOG_LINES = 1_000
# A longer line (a traceback included) is cut to this many characters.
LINE_CHARS = 4_000
# A run may log this many lines a second, and this many at once; what is over is
# dropped, and counted in one "N lines dropped" line.
LOG_RATE = 50.0
LOG_BURST = 200
# Lines waiting for their write (the database is slow or away): beyond, dropped too.
LOG_BUFFER = 1_000
# How often a run's waiting lines are written, in one statement.
LOG_FLUSH_INTERVAL = 0.5
