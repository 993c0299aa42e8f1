"""Versioned schema migrations: numbered SQL files applied in order under an advisory lock.

Each migration runs in a transaction of its own that first takes the lock with
pg_advisory_xact_lock and then reads what is applied: a transaction-scoped lock
needs no session, so migrating works through a transaction pooler too (a
session lock taken there can land on one server session and its unlock on
another, leaving the lock held for whoever gets that session next).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from engine.db.pool import Conn
from engine.errors import SchemaError

# Any fixed number works; it only has to be the same in every pqw process.
MIGRATION_LOCK_KEY = 0x7071_775F_6D69_6772  # "pqw_migr"

_FILE = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)\.(?P<direction>up|down)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: str
    down: str


@dataclass(frozen=True)
class MigrationStatus:
    version: int
    name: str
    applied_at: Any  # datetime | None


def load_migrations() -> list[Migration]:
    """Every migration shipped in engine/db/schema, in version order."""
    found: dict[int, dict[str, str]] = {}
    for entry in resources.files("engine.db.schema").iterdir():
        match = _FILE.match(entry.name)
        if not match:
            continue
        version = int(match["version"])
        slot = found.setdefault(version, {"name": match["name"]})
        slot[match["direction"]] = entry.read_text(encoding="utf-8")
    migrations = []
    for version in sorted(found):
        slot = found[version]
        if "up" not in slot or "down" not in slot:
            raise SchemaError(f"migration {version:03d} lacks its up or down file")
        migrations.append(Migration(version, slot["name"], slot["up"], slot["down"]))
    return migrations


def latest_version() -> int:
    return load_migrations()[-1].version


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS pqw_migration (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


async def applied_versions(conn: Conn) -> dict[int, Any]:
    """version -> applied_at for every applied migration ({} on a bare database)."""
    exists = await conn.fetchval("SELECT to_regclass('pqw_migration') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, applied_at FROM pqw_migration ORDER BY version")
    return {r["version"]: r["applied_at"] for r in rows}


def _refuse_newer(applied: dict[int, Any], known: list[Migration]) -> None:
    newest_known = known[-1].version
    newer = [v for v in applied if v > newest_known]
    if newer:
        raise SchemaError(
            f"the database is migrated to version {max(newer)}, newer than this pqw knows "
            f"(up to {newest_known}); upgrade pqw before using this database"
        )


async def status(conn: Conn) -> list[MigrationStatus]:
    """Each known migration and when it was applied (None when pending)."""
    known = load_migrations()
    applied = await applied_versions(conn)
    _refuse_newer(applied, known)
    return [MigrationStatus(m.version, m.name, applied.get(m.version)) for m in known]


_LOCK = "SELECT pg_advisory_xact_lock($1)"


async def _locked_applied(conn: Conn, known: list[Migration]) -> dict[int, Any]:
    """Inside a transaction: wait for the migration lock, then what is applied."""
    await conn.execute(_LOCK, MIGRATION_LOCK_KEY)
    applied = await applied_versions(conn)
    _refuse_newer(applied, known)
    return applied


async def migrate_up(conn: Conn, target: int | None = None) -> list[Migration]:
    """Apply pending migrations up to target (default: all); returns those applied."""
    known = load_migrations()
    target = known[-1].version if target is None else target
    if target not in {m.version for m in known} and target != 0:
        raise SchemaError(f"no migration with version {target}")
    async with conn.transaction():
        await conn.execute(_LOCK, MIGRATION_LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
    done: list[Migration] = []
    for migration in known:
        if migration.version > target:
            break
        async with conn.transaction():
            if migration.version in await _locked_applied(conn, known):
                continue
            await conn.execute(migration.up)
            await conn.execute(
                "INSERT INTO pqw_migration (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        done.append(migration)
    return done


async def migrate_down(conn: Conn, target: int = 0) -> list[Migration]:
    """Revert applied migrations above target (default: all); returns those reverted."""
    known = load_migrations()
    done: list[Migration] = []
    for migration in reversed(known):
        if migration.version <= target:
            break
        async with conn.transaction():
            if migration.version not in await _locked_applied(conn, known):
                continue
            await conn.execute(migration.down)
            await conn.execute("DELETE FROM pqw_migration WHERE version = $1", migration.version)
        done.append(migration)
    return done


async def check_schema(conn: Conn) -> None:
    """Raise SchemaError unless the database holds exactly the schema this pqw knows."""
    known = load_migrations()
    applied = await applied_versions(conn)
    _refuse_newer(applied, known)
    missing = [m.version for m in known if m.version not in applied]
    if missing:
        if not applied:
            raise SchemaError("the database has no pqw schema yet: run `pqw migrate up`")
        raise SchemaError(
            f"the database schema is behind (missing migration {missing[0]:03d}): "
            "run `pqw migrate up`"
        )
