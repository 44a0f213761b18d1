"""Rewriting the vault's file: without its free blocks, and into the current storage format (`STORAGE_VERSION`).

DuckDB reuses a file's free blocks but never gives them back; a vault in an older storage format is rewritten once.
The copy is written beside the vault and renamed over it, so a crash leaves the vault as it was.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb

from vault.connection import STORAGE_VERSION, open_file, secure, with_roomy_retry
from vault.faults import crash_point
from vault.sqlstring import sql_name, sql_string


COMPACT_FREE_SHARE = 0.5  # after migrating, a file more than half free blocks is rewritten

# After the first ingest into a new vault, a file this much free, and by at least COMPACT_MIN_FREE bytes, is
# rewritten. The 1 GB archive left 113 MB free (20%; the checkpoints' merges of the row groups the cold ingest
# appended); since its writers are attached with `store.WRITE_ROW_GROUP`, a few blocks (docs/storage.md).
FIRST_INGEST_FREE_SHARE = 0.25

COMPACT_MIN_FREE = 64 << 20


def mostly_free(con: duckdb.DuckDBPyConnection, share: float = COMPACT_FREE_SHARE, min_bytes: int = 0) -> bool:
    used, free, block = con.execute("SELECT used_blocks, free_blocks, block_size FROM pragma_database_size() "
                                    "WHERE database_name = current_database()").fetchone()
    return free > share * (used + free) and free * block >= min_bytes


# DuckDB's memory cap while `compact` copies the vault: under its default (80% of RAM) the copy of the 1 GB archive's
# vault peaked at 1.4 GB of RSS. Since m016 the copy of that vault ran out of memory under 256 MB (also with one
# thread) and took 566 MB of RSS under 384 MB: this leaves room.
COMPACT_MEMORY = "512MB"


def compact_after_first_ingest(con: duckdb.DuckDBPyConnection, path: Path) -> bool:
    """Rewrite a newly filled vault when a quarter of it is free blocks (closes `con`). True if it did."""
    if str(path) == ":memory:" or not mostly_free(con, FIRST_INGEST_FREE_SHARE, COMPACT_MIN_FREE):
        return False
    compact(con, Path(path)).close()
    return True


def compact(con: duckdb.DuckDBPyConnection, path: Path,
            row_group_size: int | None = None) -> duckdb.DuckDBPyConnection:
    """Rewrite the vault without its free blocks, in STORAGE_VERSION, and return a new connection (closing `con`).

    DuckDB reuses a file's free blocks but never gives them back: a migration that shrinks the
    data (m010: 2.0 GB -> 0.5 GB) would leave the file as large as before. The copy is written
    beside the vault and renamed over it, so a crash leaves the vault as it was. It runs under
    COMPACT_MEMORY (again under the connection's previous limit if it runs out).
    """
    tmp = path.with_name(f"{path.name}.compact")
    db = con.execute("SELECT current_database()").fetchone()[0]
    con.execute("CHECKPOINT")
    # Out of memory under the cap: the copy is deleted and made again under the connection's previous limit.
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    with_roomy_retry(con, lambda: _copy_database(con, db, tmp), roomy=before, cap=COMPACT_MEMORY)
    con.close()
    crash_point("compact-copied")
    os.replace(tmp, path)
    secure(path)
    return open_file(path, read_only=False, row_group_size=row_group_size)


def drop_stale_copy(path: Path) -> None:
    """Remove what a `compact` killed before its rename left beside the vault (as large as the vault). Called by a
    writer, which holds the vault's lock: no other process can be writing that copy."""
    for p in (path.with_name(f"{path.name}.compact"), path.with_name(f"{path.name}.compact.wal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _copy_database(con: duckdb.DuckDBPyConnection, db: str, tmp: Path) -> None:
    """Every object of the database `db` copied into a new file `tmp` in STORAGE_VERSION (the column options too)."""
    for p in (tmp, Path(f"{tmp}.wal")):
        p.unlink(missing_ok=True)
    con.execute(f"ATTACH {sql_string(tmp)} AS vault_compact (STORAGE_VERSION {sql_string(STORAGE_VERSION)})")
    try:
        con.execute(f"COPY FROM DATABASE {sql_name(db)} TO vault_compact")
        con.execute("CHECKPOINT vault_compact")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COPY FROM DATABASE leaves its transaction open
            con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DETACH vault_compact")
