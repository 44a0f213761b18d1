"""The vault file's public face: opening it (with checks, migrations, locks and permissions).

DuckDB allows one writing process per file, and a second process cannot even open
it read-only while a writer holds it. `open_vault` turns that into a clear
`VaultLockedError` naming the holder; readers (the TUI, the MCP server) carry on
from a copy (`vault.snapshot`).

The work is done below, each part in a module of its own: opening the file, its locks, DuckDB's settings and
the WAL (`vault.connection`), the schema checks and the migration runner (`vault.schema`), the rewrite without
free blocks and into the current storage format (`vault.compact`). Their public names are imported from here
too; a test that replaces one patches the module that uses it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb

from vault.compact import compact, compact_after_first_ingest, drop_stale_copy, mostly_free
from vault.connection import (APPEND_ROW_GROUP, CONNECT_CONFIG, STORAGE_VERSION, NotAVaultError, VaultDamagedError,
                              VaultLockedError, VaultMissingError, backups, backups_hint, check_file, check_writable,
                              checkpoint_large, connect, load_extension, missing_vault, older_storage, open_file,
                              reattach, reset_memory_limit, secure, settle, storage_version, transaction,
                              with_roomy_retry)
from vault.errors import VaultError
from vault.schema import (SCHEMA_TABLES, SCHEMA_VERSION, VaultTooNewError, applied_migrations, backup,
                          bump_content_version, check_schema, expected_tables, get_meta, migrate, migration_number,
                          pending_migrations, remember_schema, set_meta)

__all__ = [
    "APPEND_ROW_GROUP", "CONNECT_CONFIG", "SCHEMA_TABLES", "SCHEMA_VERSION", "STORAGE_VERSION", "NotAVaultError",
    "VaultDamagedError", "VaultError", "VaultLockedError", "VaultMissingError", "VaultNeedsMigrationError", "VaultTooNewError",
    "applied_migrations", "backup", "backups", "bump_content_version", "check_file", "check_schema",
    "checkpoint_large", "compact", "compact_after_first_ingest", "connect", "expected_tables", "get_meta",
    "load_extension", "migrate", "migration_number", "needed_migrations", "open_vault", "open_vault_waiting",
    "pending_migrations", "remember_schema", "reset_memory_limit", "set_meta", "settle", "storage_version",
    "WRITE_ROW_GROUP", "transaction", "want_write_path", "with_roomy_retry",
]


# The row group size of every writer of a vault but the small appends (`APPEND_ROW_GROUP`). A table without an index (a
# cold ingest drops the key indexes until `finish`) gets a row group per commit, and DuckDB's checkpoint merges runs of
# row groups smaller than the writer's size into full ones, writing them again while the old copies stay until it ends:
# with DuckDB's 122,880 rows the 1 GB archive's first ingest grew the file to 2,203 blocks for 1,503 used (the whole
# command's 113 MB of free blocks came from there). With 16,384 a merge writes at most three such groups again (3
# blocks free after `finish`; the tables 4% larger; 8,192: larger still; 32,768: 210 MB free). Every writer, not only
# the first ingest: a writer of DuckDB's size merges every table's smaller row groups at its first checkpoint, changed
# or not (a whole vault written again). A writer of this size or smaller leaves larger ones as they are (a vault
# written before). An ATTACH option, per process, not stored in the file (docs/storage.md, "Free blocks").
WRITE_ROW_GROUP = 16384


class VaultNeedsMigrationError(VaultError):
    """A read-only open of a vault written by an older version: read-only opens never write (docs/vault-file.md)."""


def open_vault(
    path: str | Path | None = None, *, read_only: bool = False, appends: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) the vault and return a DuckDB connection.

    A read-only open never creates nor changes anything: of a vault that does not exist, it raises VaultMissingError
    ("no vault at PATH"); of one that needs migrating, VaultNeedsMigrationError.
    `appends`: the writer appends a little at a time (an incremental ingest): a vault that exists already is
    attached with APPEND_ROW_GROUP.
    """
    if path is None:  # the settings (pydantic) are loaded only when no path is given
        from vault.settings import default_db_path

        path = default_db_path()
    path = Path(path).expanduser()
    if str(path) == ":memory:":
        con = connect()
        migrate(con)
        return con
    if read_only and (not path.exists() or _empty_file(path)):
        raise missing_vault(path)
    if _empty_file(path):
        path.unlink()  # holds nothing (a vault killed while being created, or `touch`): a writer makes it a vault
    if not read_only:
        new = not path.exists()
        rows = APPEND_ROW_GROUP if appends and not new else WRITE_ROW_GROUP
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except PermissionError as e:
            raise VaultError(f"cannot create the folder {e.filename or path.parent} for the vault {path}: "
                             "permission denied") from None
        check_writable(path)
        # (created by a direct connect, which writes STORAGE_VERSION; ATTACH would write v1.0.0)
        con, _ = _checked(path, read_only=False, migrating=True, row_group_size=None if new else rows)
        secure(path)
        if new:  # attached again with the writers' row group size, to be filled
            con.close()
            con = open_file(path, read_only=False, row_group_size=rows)
        return con
    con, pending = _checked(path, read_only=True, migrating=False)
    if pending:
        # Upgrading rewrites tables and copies the whole file to a backup first: not for a command that only
        # reads, perhaps in a script, while another process may read the file too. The person runs it once.
        con.close()
        raise VaultNeedsMigrationError(
            f"the vault {path} was written by an older version and needs upgrading before it can be read "
            f"({len(pending)} migration{'s' if len(pending) > 1 else ''}: {', '.join(pending)}); read-only "
            "commands never change it: run `vault migrate` (it keeps a backup copy first; `vault ingest` "
            "upgrades it too)")
    return con


def needed_migrations(path: Path) -> list[str]:
    """The migrations the vault at `path` still needs, found read-only (a newer, damaged or foreign file is
    refused as `open_vault` refuses it)."""
    con, pending = _checked(Path(path).expanduser(), read_only=True, migrating=False)
    con.close()
    return pending


def _empty_file(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size == 0 and not Path(f"{path}.wal").exists()
    except OSError:
        return False


def _checked(path: Path, *, read_only: bool, migrating: bool,
             row_group_size: int | None = None) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """A connection to a file that passed `check_schema` (and was migrated, if `migrating`), and the
    migrations it still needs (none once migrated). Migrations rewrite whole tables: under WRITE_ROW_GROUP (not
    the appends' small size), the connection then attached again with `row_group_size`."""
    con = open_file(path, read_only=read_only, row_group_size=row_group_size)
    try:
        remembered, pending = check_schema(con, path)
        resize = bool(migrating and pending and row_group_size and row_group_size != WRITE_ROW_GROUP)
        if resize:
            reattach(con, path, WRITE_ROW_GROUP)
        if migrating:
            migrated = migrate(con, path) if pending else []  # (`migrate` would read the catalog again to know)
            reattached, pending = resize, []
            if migrated or not remembered:
                remember_schema(con)
            if (migrated and mostly_free(con)) or older_storage(con):  # (also a rewrite a crash cut short)
                con = compact(con, path, row_group_size)
            else:
                drop_stale_copy(path)
                if reattached:  # attached with WRITE_ROW_GROUP for the migrations: with its own again for the appends
                    reattach(con, path, row_group_size)
    except duckdb.IOException as e:  # a block that fails its checksum: damage (a lock shows at connect)
        con.close()
        raise VaultDamagedError(f"the vault {path} is damaged or unreadable: {str(e).splitlines()[0]}"
                                f"{backups_hint(path)}") from None
    except BaseException:
        con.close()
        raise
    return con, pending


def open_vault_waiting(path: str | Path | None = None, *, read_only: bool = False,
                       wait: float = 2.0, appends: bool = False) -> duckdb.DuckDBPyConnection:
    """`open_vault`, retrying for up to `wait` seconds while another process holds the vault.

    Readers that hold it only for a moment (`vault mcp`, the TUI) would otherwise make a writer fail.
    """
    import time

    deadline = time.monotonic() + wait
    announced = False
    while True:
        try:
            return open_vault(path, read_only=read_only, appends=appends)
        except VaultLockedError:
            # announced even when this first try outlasted the wait (a loaded machine): a writer came
            if not announced and path is not None:  # `vault mcp` closes its reader when it sees this
                with contextlib.suppress(OSError):
                    want = want_write_path(Path(path))
                    want.touch(mode=0o600)  # beside the vault: as private (it says when a writer ran)
                    os.chmod(want, 0o600)  # (one an older version left 0644)
                announced = True
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def want_write_path(path: Path) -> Path:
    """Touched by a process waiting for the vault, so readers that hold it between calls let go."""
    path = Path(path).expanduser()
    return path.with_name(path.name + ".want-write")
