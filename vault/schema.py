"""The vault's schema: which tables a vault has, its version checks, and the migration runner (`migrate`).

A database that is not a vault is refused before it is migrated (`NotAVaultError`), a damaged vault or one written by a
newer version is named as such (`check_schema`). The migrations themselves are `vault.migrations.MIGRATIONS`; this
module applies them, each in its own transaction, and owns the tables that record them (`meta`, `migrations`).
"""

from __future__ import annotations

import functools
from pathlib import Path

import duckdb

from vault import __version__
from vault.connection import (NotAVaultError, VaultDamagedError, backups_hint, connect, reset_memory_limit, secure,
                              with_roomy_retry)
from vault.errors import VaultError
from vault.faults import crash_point
from vault.migrations import MIGRATIONS
from vault.sqlstring import sql_string, sql_strings


class VaultTooNewError(VaultError):
    pass


SCHEMA_VERSION = "schema_version"  # meta key: the number of the last migration applied

SCHEMA_TABLES = "schema_tables"  # meta key: "<migrations applied>|<the tables they create>" (remember_schema)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database()"
    ).fetchall()}


@functools.cache
def _schema_after(names: tuple[str, ...]) -> frozenset[str]:
    """The tables a vault has after these migrations, found by running them on an empty in-memory database."""
    funcs = dict(MIGRATIONS)
    con = connect()
    try:
        for name in names:
            funcs[name](con)
        return frozenset(_tables(con))
    finally:
        con.close()


def migration_number(name: str) -> int:
    """`m005_topic` -> 5."""
    return int(name[1:].split("_", 1)[0])


def check_schema(con: duckdb.DuckDBPyConnection, path: Path | str = "vault") -> tuple[bool, list[str]]:
    """Refuse a database that is not a vault, a damaged vault, and one written by a newer version.

    Returns whether the vault remembered the tables it should have (else `remember_schema` may store them),
    and the migrations it still needs. Three small queries on a vault that remembered its tables.
    """
    tables = _tables(con)
    if "migrations" not in tables:
        if not tables:
            return False, pending_migrations(con, path, [])  # a new, empty database: it becomes a vault
        if tables & _schema_after(tuple(n for n, _ in MIGRATIONS)):
            raise VaultDamagedError(
                f"the vault {path} is damaged: its `migrations` table is missing, so which schema it has "
                f"is unknown (tables: {', '.join(sorted(tables)[:8])}); nothing was changed{backups_hint(Path(path))}")
        raise NotAVaultError(f"{path} is not a vault file (a DuckDB database with other tables: "
                             f"{', '.join(sorted(tables)[:8])})")
    done = applied_migrations(con, tables)
    pending = pending_migrations(con, path, done)  # refuses migrations this version does not know
    meta = _meta_values(con, (SCHEMA_TABLES, SCHEMA_VERSION)) if "meta" in tables else {}
    expected, remembered = expected_tables(con, done, tables, meta.get(SCHEMA_TABLES))
    missing = sorted(expected - tables)
    if missing:
        raise VaultDamagedError(f"the vault {path} is damaged: table(s) {', '.join(missing)} are missing; "
                                f"nothing was changed{backups_hint(Path(path))}")
    if "meta" in tables:
        claimed = meta.get(SCHEMA_VERSION)
        latest = max(migration_number(n) for n, _ in MIGRATIONS)
        try:
            number = int(claimed) if claimed is not None else 0
        except ValueError:
            raise VaultDamagedError(f"the vault {path} is damaged: its schema version {claimed!r} "
                                    "is not a number") from None
        if number > latest:
            raise VaultTooNewError(
                f"the vault {path} was written by a newer version of vault (schema version {number}; "
                f"this version {__version__} knows up to {latest}); upgrade vault to open it.")
    return remembered, pending


def _meta_values(con: duckdb.DuckDBPyConnection, keys: tuple[str, ...]) -> dict[str, str]:
    """Several `meta` values in one query (constants: no parameter, nothing for DuckDB to probe)."""
    names = sql_strings(keys)
    return dict(con.execute(f"SELECT key, value FROM meta WHERE key IN ({names})").fetchall())


def applied_migrations(con: duckdb.DuckDBPyConnection, tables: set[str] | None = None) -> list[str]:
    """The migrations applied to the vault, in order (`tables`: its tables, when the caller has them)."""
    if "migrations" not in (_tables(con) if tables is None else tables):
        return []
    return [r[0] for r in con.execute("SELECT name FROM migrations ORDER BY seq").fetchall()]


def expected_tables(con: duckdb.DuckDBPyConnection, done: list[str], tables: set[str],
                    stored: str | None = None) -> tuple[frozenset[str], bool]:
    """The tables the migrations `done` create, and whether the vault remembered them (`remember_schema`;
    `stored`: its `meta` value, when the caller read it); if not, they are found by running the migrations
    on an empty database (20-26 ms of every open)."""
    if stored is None and "meta" in tables:
        stored = get_meta(con, SCHEMA_TABLES)
    key, _, names = (stored or "").partition("|")
    if stored and key == ",".join(done):
        return frozenset(names.split(",")), True
    return _schema_after(tuple(n for n, _ in MIGRATIONS if n in done)), False


def remember_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Store in `meta` which tables the applied migrations create, for `check_schema` at the next opens."""
    tables = _tables(con)
    if "meta" in tables:
        done = applied_migrations(con, tables)
        names = sorted(_schema_after(tuple(n for n, _ in MIGRATIONS if n in done)))
        set_meta(con, SCHEMA_TABLES, ",".join(done) + "|" + ",".join(names))


def pending_migrations(con: duckdb.DuckDBPyConnection, path: Path | str = "vault",
                       done: list[str] | None = None) -> list[str]:
    done = applied_migrations(con) if done is None else done
    known = [name for name, _ in MIGRATIONS]
    unknown = [n for n in done if n not in known]
    if unknown:
        raise VaultTooNewError(
            f"the vault {path} was written by a newer version of vault "
            f"(it has migrations this version {__version__} does not know: {', '.join(unknown)}); "
            "upgrade vault to open it."
        )
    return [n for n in known if n not in done]


def migrate(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> list[str]:
    """Apply pending migrations, each in its own transaction, backing up an existing vault first."""
    todo = pending_migrations(con, path or "vault")
    if not todo:
        return []
    if applied_migrations(con) and path is not None and path.exists():
        backup(con, path)
    con.execute(
        "CREATE TABLE IF NOT EXISTS migrations (seq INTEGER, name VARCHAR PRIMARY KEY, "
        "applied_at TIMESTAMP, app_version VARCHAR)"
    )
    con.execute(f"SET memory_limit = {sql_string(MIGRATION_MEMORY)}")
    try:
        for name in todo:  # (rolled back) a migration that needs more runs again without the cap
            with_roomy_retry(con, functools.partial(_apply, con, name), roomy=None)
        crash_point("migrated")  # committed, only in the WAL: m007's ALTER made such a WAL unreplayable
        con.execute("CHECKPOINT")
    finally:
        reset_memory_limit(con)
    return todo


# DuckDB's memory cap while migrating. Its default (80% of RAM) let m010 keep every block it read and wrote
# in its one transaction: 1.5 GB of RSS to convert a 1 GB old-layout vault (bench/migration_memory_bench.py).
# Under the cap DuckDB evicts and spills instead; the rows are the same. A migration that fails under it
# (out of memory, rolled back) runs again without it.
MIGRATION_MEMORY = "256MB"


def _apply(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """One migration and its record, in one transaction."""
    seq = [n for n, _ in MIGRATIONS].index(name)
    con.execute("BEGIN")
    try:
        dict(MIGRATIONS)[name](con)
        con.execute("INSERT INTO migrations VALUES (?, ?, current_timestamp, ?)", [seq, name, __version__])
        number = max(migration_number(n) for n in [*applied_migrations(con), name])
        set_meta(con, SCHEMA_VERSION, str(number))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def backup(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Copy the vault beside itself before an upgrade: `<name>.bak-<UTC time>`."""
    import datetime as _dt
    import shutil

    con.execute("CHECKPOINT")
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = path.with_name(f"{path.name}.bak-{stamp}")
    shutil.copy2(path, dest)
    secure(dest)
    return dest


def get_meta(con: duckdb.DuckDBPyConnection, key: str, default: str | None = None) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def mark_content_version(con: duckdb.DuckDBPyConnection, *keys: str) -> None:
    """Set each of `keys` to the current content version, in one statement (an index saying what it describes)."""
    con.execute(f"""INSERT OR REPLACE INTO meta
                    SELECT k, coalesce((SELECT value FROM meta WHERE key = 'content_version'), '0')
                    FROM (SELECT unnest([{sql_strings(keys)}]) AS k)""")


def bump_content_version(con: duckdb.DuckDBPyConnection) -> int:
    """Content changed: indexes (FTS) compare this number with the one they were built at."""
    v = int(get_meta(con, "content_version", "0") or 0) + 1
    set_meta(con, "content_version", str(v))
    return v
