"""The vault file: opening it (with checks, migrations, locks and permissions), and bulk writes.

DuckDB allows one writing process per file, and a second process cannot even open
it read-only while a writer holds it. `open_vault` turns that into a clear
`VaultLockedError` naming the holder; readers (the TUI, the MCP server) carry on
from a copy (`vault.snapshot`).

Every connection is made by `connect`, which turns off DuckDB's automatic extension
install and load: a file DuckDB could attach with an extension (an SQLite database)
would otherwise make it download one. The only extensions loaded are the pinned
packages (`load_extension`). Anything that is not a vault is refused before it is
opened or migrated (`NotAVaultError`), and a damaged or newer vault is named as such.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb

from vault import __version__
from vault.errors import VaultError
from vault.faults import crash_point
from vault.migrations import MIGRATIONS

T = TypeVar("T")


class VaultLockedError(VaultError):
    pass


class VaultTooNewError(VaultError):
    pass


class NotAVaultError(VaultError):
    pass


class VaultDamagedError(VaultError):
    pass


class VaultNeedsMigrationError(VaultError):
    """A read-only open of a vault written by an older version: read-only opens never write (docs/vault-file.md)."""


# No extension is installed or loaded behind our back (that would be a download).
CONNECT_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
DUCKDB_MAGIC = b"DUCK"  # bytes 8-12 of every DuckDB database file
SCHEMA_VERSION = "schema_version"  # meta key: the number of the last migration applied
SCHEMA_TABLES = "schema_tables"  # meta key: "<migrations applied>|<the tables they create>" (remember_schema)


def connect(path: str | Path = ":memory:", *, read_only: bool = False,
            row_group_size: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never installs or loads an extension by itself.

    A file whose WAL DuckDB cannot replay on a direct open is replayed by `_replay_wal_attached`
    first (see there), then opened as usual. `row_group_size`: the file is attached from an in-memory
    database with this row group size for what is appended (`APPEND_ROW_GROUP`).
    """
    try:
        return _open(path, read_only, row_group_size)
    except duckdb.InternalException:
        if str(path) == ":memory:" or not Path(f"{path}.wal").is_file():
            raise
    _replay_wal_attached(Path(path))
    return _open(path, read_only, row_group_size)


def _open(path: str | Path, read_only: bool, row_group_size: int | None = None) -> duckdb.DuckDBPyConnection:
    if row_group_size is None or read_only or str(path) == ":memory:":
        config = dict(CONNECT_CONFIG)
        if not read_only and str(path) != ":memory:" and not os.path.lexists(path):  # a new file: STORAGE_VERSION
            config["storage_compatibility_version"] = STORAGE_VERSION
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    else:
        con = duckdb.connect(config=dict(CONNECT_CONFIG))
        try:
            _attach_as_default(con, Path(path), row_group_size)
        except BaseException:
            con.close()
            raise
    # DuckDB draws a progress bar on stdout for a query over 2 s, even into a pipe: on a large vault
    # it landed inside `vault ingest --json`'s output. A per-connection setting (not a config key).
    con.execute("SET enable_progress_bar = false")
    return con


# The storage format a vault file is created in (and an older one rewritten into, `_checked`): DuckDB writes a new
# file in v1.0.0 unless told, and there a column's `USING COMPRESSION zstd` (m016: the messages' and tool calls' long
# texts) is accepted and ignored. In v1.0.0 also, the checkpoint after a small commit wrote the touched key indexes
# (ART) again in the old layout: 0.25-0.5 s of CPU for a new session's 437 message ids on the 1 GB vault, against
# ~0.05 s in v1.5 (docs/foundation.md, re-ingest). Readable by DuckDB 1.5 and later only (pyproject pins 1.5.5).
STORAGE_VERSION = "v1.5.0"


def storage_version(con: duckdb.DuckDBPyConnection) -> tuple[int, ...] | None:
    """The storage format of the vault's file, as (1, 5, 0) (None: in memory)."""
    tags = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    found = (tags or {}).get("storage_version")
    return _version(found) if found else None


def _version(text: str) -> tuple[int, ...]:
    """'v1.5.0+' -> (1, 5, 0)."""
    return tuple(int(part) for part in text.strip("v+").split("."))


def _older_storage(con: duckdb.DuckDBPyConnection) -> bool:
    found = storage_version(con)
    return found is not None and found < _version(STORAGE_VERSION)


# The row group size of a writer that appends a little to a vault holding data (`open_vault(appends=True)`: `vault
# ingest` and the hook's worker). DuckDB appends the rows of a small commit to a table that has an index (a key: files,
# sessions, messages, tool_calls, record_chunks) into the table's last row group, and its next checkpoint rewrites that
# row group whole, every column: on the 1 GB vault 98,796 messages (~0.5 s CPU), 83,056 tool calls, and the 108 MB of
# the raw records' zstd frames, for two new records. A row group this size or larger counts as full, so appends
# start a new one and a checkpoint rewrites at most this many rows of a table. It is DuckDB's smallest (its vector
# size); an ATTACH option, per process, not stored: a cold ingest and every other writer keep DuckDB's 122,880 (row
# groups of 2,048 everywhere made the 1 GB vault 20% larger and its copy 2.4x the CPU). docs/foundation.md.
APPEND_ROW_GROUP = 2048
ATTACHED_AS = "vault"  # the database name of an attached vault (`current_database()`)


def _attach_as_default(con: duckdb.DuckDBPyConnection, path: Path, row_group_size: int | None) -> None:
    """ATTACH the vault file to `con` (an in-memory database) with `row_group_size` (None: DuckDB's), and USE it."""
    quoted = str(path).replace("'", "''")
    option = f" (ROW_GROUP_SIZE {int(row_group_size)})" if row_group_size else ""
    con.execute(f"ATTACH '{quoted}' AS {ATTACHED_AS}{option}")
    con.execute(f"USE {ATTACHED_AS}")


def _reattach(con: duckdb.DuckDBPyConnection, path: Path, row_group_size: int | None) -> None:
    """The same file attached again with another row group size (`con` from `connect(row_group_size=...)`)."""
    con.execute("USE memory")
    con.execute(f"DETACH {ATTACHED_AS}")
    _attach_as_default(con, path, row_group_size)


def _replay_wal_attached(path: Path) -> None:
    """Replay the WAL of `path` into the file through ATTACH from an in-memory database, then checkpoint.

    DuckDB 1.5.5 binds a table's non-constant column defaults (`DEFAULT current_timestamp`) when
    it replays an ALTER TABLE of that table, and on a direct open no default database is set yet:
    "INTERNAL Error: Failure while replaying WAL file ...: Calling DatabaseManager::GetDefaultDatabase
    with no default database set" (duckdb/duckdb#18259, #20543). A process killed after a committed
    ALTER (a migration such as m007) and before the next checkpoint left a vault that never opened
    again (issue 13). Attached from an in-memory database, the default database is set and the same
    WAL replays; the checkpoint writes every committed transaction into the file (nothing dropped)
    and removes the WAL (also for a read-only open: a direct open would replay the same transactions).
    Any other error is DuckDB's own, raised as it is.
    """
    mem = duckdb.connect(config=dict(CONNECT_CONFIG))
    try:
        _attach(mem, path, "vault_wal_replay")
        mem.execute("CHECKPOINT vault_wal_replay")
        mem.execute("DETACH vault_wal_replay")
    finally:
        mem.close()


def _attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str) -> None:
    """ATTACH a database file (the statement takes no parameter: the path is quoted here)."""
    quoted = str(path).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS {alias}")


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension from its pinned PyPI package (`duckdb-extension-<name>`), never downloaded."""
    import importlib

    loaded = con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?", [name]).fetchone()
    if loaded and loaded[0]:
        return
    pkg = importlib.import_module(f"duckdb_extension_{name}")
    files = sorted(Path(pkg.__file__).parent.glob(f"extensions/*/{name}.duckdb_extension"))
    if not files:
        raise VaultError(f"the package duckdb-extension-{name} holds no {name}.duckdb_extension")
    con.execute(f"LOAD '{files[-1]}'")


def _lock_holder(path: Path) -> int | None:
    """The PID of another process holding a POSIX lock on `path` (as DuckDB takes), asked of the OS."""
    import fcntl  # (here, as shutil and datetime below: every command imports this module; shutil loads bz2 and
    import struct  # lzma, 3-4 ms of a cold search)

    if sys.platform.startswith("linux"):
        fmt, fields = "@hhqqi4x", ("type", "whence", "start", "len", "pid")
    elif sys.platform == "darwin" or "bsd" in sys.platform:
        fmt, fields = "@qqihh", ("start", "len", "pid", "type", "whence")
    else:
        return None
    values = {"type": fcntl.F_WRLCK, "whence": os.SEEK_SET, "start": 0, "len": 0, "pid": 0}
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        got = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(fmt, *(values[f] for f in fields)))
    except OSError:
        return None
    finally:
        os.close(fd)
    out = dict(zip(fields, struct.unpack(fmt, got), strict=True))
    return out["pid"] if out["type"] != fcntl.F_UNLCK else None


def _describe_pid(pid: int) -> str:
    cmd = "?"
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        parts = [p for p in raw.decode(errors="replace").split("\0") if p]
        if parts:
            cmd = " ".join(parts)[:200]
    return f"process {pid} ({cmd})"


def backups(path: Path) -> list[Path]:
    """The backup copies `backup` made of the vault at `path`, oldest first."""
    return sorted(path.parent.glob(f"{path.name}.bak-*"))


def _backups_hint(path: Path) -> str:
    found = backups(path)
    return f"; the latest backup is {found[-1]}" if found else ""


def check_file(path: Path) -> None:
    """Refuse, before DuckDB sees it, a file that is not a DuckDB database (an SQLite file, text, nothing)."""
    if not os.path.lexists(path):
        return
    if not path.is_file():
        raise NotAVaultError(f"{path} is not a vault file (not a regular file)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as e:
        raise VaultError(f"cannot read the vault {path}: {e.strerror}") from None
    if head[8:12] == DUCKDB_MAGIC:
        return
    what = ("an empty file" if not head else "an SQLite database" if head.startswith(b"SQLite format 3")
            else "no DuckDB header")
    raise NotAVaultError(f"{path} is not a vault file ({what})")


OPEN_ATTEMPTS = 3  # a holder may let go between DuckDB's refusal and our question to the OS


def _connect(path: Path, read_only: bool, row_group_size: int | None = None) -> duckdb.DuckDBPyConnection:
    check_file(path)
    for _ in range(OPEN_ATTEMPTS):
        try:
            return connect(path, read_only=read_only, row_group_size=row_group_size)
        except duckdb.IOException as e:
            # Both a held lock and a damaged file are IOExceptions: the OS says which (no guessing
            # from the text). A damaged file fails the same way every time; a lock comes and goes.
            pid = _lock_holder(path)
            if pid is not None:
                raise VaultLockedError(
                    f"the vault {path} is in use by {_describe_pid(pid)}; "
                    "DuckDB allows one writer per file. Wait for it to finish, or use "
                    "`vault tui` which can read from a snapshot."
                ) from None
            error = str(e).splitlines()[0] if str(e) else type(e).__name__
        except duckdb.Error as e:
            raise VaultError(f"cannot open the vault {path}: {str(e).splitlines()[0]}") from None
    raise VaultDamagedError(f"cannot open the vault {path} (damaged or unreadable): {error}{_backups_hint(path)}")


def _secure(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(p, 0o600)


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
                f"is unknown (tables: {', '.join(sorted(tables)[:8])}); nothing was changed{_backups_hint(Path(path))}")
        raise NotAVaultError(f"{path} is not a vault file (a DuckDB database with other tables: "
                             f"{', '.join(sorted(tables)[:8])})")
    done = applied_migrations(con, tables)
    pending = pending_migrations(con, path, done)  # refuses migrations this version does not know
    meta = _meta_values(con, (SCHEMA_TABLES, SCHEMA_VERSION)) if "meta" in tables else {}
    expected, remembered = expected_tables(con, done, tables, meta.get(SCHEMA_TABLES))
    missing = sorted(expected - tables)
    if missing:
        raise VaultDamagedError(f"the vault {path} is damaged: table(s) {', '.join(missing)} are missing; "
                                f"nothing was changed{_backups_hint(Path(path))}")
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
    names = ", ".join("'" + k.replace("'", "''") + "'" for k in keys)
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
    con.execute(f"SET memory_limit = '{MIGRATION_MEMORY}'")
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


def reset_memory_limit(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB's default memory cap again. `RESET memory_limit` alone is not enough in DuckDB 1.5.5: it shows the
    default but leaves the buffer pool at the last value SET (a sort then still runs out of memory under the old
    cap; tests/foundation/test_ingest_memory_retry.py), so the default is SET explicitly first, then RESET (which
    then reports the default exactly, not as the SET value rounded to 0.1 GiB)."""
    con.execute("RESET memory_limit")
    default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.execute(f"SET memory_limit = '{default}'")
    con.execute("RESET memory_limit")


def with_roomy_retry(con: duckdb.DuckDBPyConnection, run: Callable[[], T], roomy: str | None, *,
                     cap: str | None = None, errors: tuple[type[Exception], ...] = (duckdb.OutOfMemoryException,),
                     restore: Callable[[], object] | None = None) -> T:
    """`run()` under a small DuckDB memory cap, once more under a roomy one if it runs out of memory.

    The small cap (`cap`; None: the one set now) makes DuckDB spill rather than grow; a step that still fails with
    one of `errors` (out of memory: DuckDB rolled its transaction back) runs again under `roomy` (None: DuckDB's
    default, no cap of ours). A second failure is raised. Whatever this changed, the cap is set back afterwards:
    by `restore()` if given (a cap the caller computes), else to the value it had before (as DuckDB reports it: to
    0.1 MiB).
    """
    before = None if restore else con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    changed = cap is not None
    try:
        if cap is not None:
            con.execute(f"SET memory_limit = '{cap}'")
        try:
            return run()
        except errors:
            changed = True
            if roomy is None:
                reset_memory_limit(con)
            else:
                con.execute(f"SET memory_limit = '{roomy}'")
            return run()
    finally:
        if changed:
            if restore:
                restore()
            else:
                con.execute(f"SET memory_limit = '{before}'")


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


COMPACT_FREE_SHARE = 0.5  # after migrating, a file more than half free blocks is rewritten
# After the first ingest into a new vault, a file this much free, and by at least COMPACT_MIN_FREE bytes, is
# rewritten. The 1 GB archive leaves 65 MB free (the checkpoint that merges the row groups the cold ingest
# appended): 21% of its 314 MB file since m016, so it is not (docs/storage.md).
FIRST_INGEST_FREE_SHARE = 0.25
COMPACT_MIN_FREE = 64 << 20


def _mostly_free(con: duckdb.DuckDBPyConnection, share: float = COMPACT_FREE_SHARE, min_bytes: int = 0) -> bool:
    used, free, block = con.execute("SELECT used_blocks, free_blocks, block_size FROM pragma_database_size() "
                                    "WHERE database_name = current_database()").fetchone()
    return free > share * (used + free) and free * block >= min_bytes


# DuckDB's memory cap while `compact` copies the vault: under its default (80% of RAM) the copy of the 1 GB archive's
# vault peaked at 1.4 GB of RSS. Since m016 the copy of that vault ran out of memory under 256 MB (also with one
# thread) and took 566 MB of RSS under 384 MB: this leaves room.
COMPACT_MEMORY = "512MB"


def compact_after_first_ingest(con: duckdb.DuckDBPyConnection, path: Path) -> bool:
    """Rewrite a newly filled vault when a quarter of it is free blocks (closes `con`). True if it did."""
    if str(path) == ":memory:" or not _mostly_free(con, FIRST_INGEST_FREE_SHARE, COMPACT_MIN_FREE):
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
    _secure(path)
    return _connect(path, read_only=False, row_group_size=row_group_size)


def _drop_stale_copy(path: Path) -> None:
    """Remove what a `compact` killed before its rename left beside the vault (as large as the vault). Called by a
    writer, which holds the vault's lock: no other process can be writing that copy."""
    for p in (path.with_name(f"{path.name}.compact"), path.with_name(f"{path.name}.compact.wal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _copy_database(con: duckdb.DuckDBPyConnection, db: str, tmp: Path) -> None:
    """Every object of the database `db` copied into a new file `tmp` in STORAGE_VERSION (the column options too)."""
    for p in (tmp, Path(f"{tmp}.wal")):
        p.unlink(missing_ok=True)
    quoted = str(tmp).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS vault_compact (STORAGE_VERSION '{STORAGE_VERSION}')")
    try:
        con.execute(f'COPY FROM DATABASE "{db}" TO vault_compact')
        con.execute("CHECKPOINT vault_compact")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COPY FROM DATABASE leaves its transaction open
            con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DETACH vault_compact")


def backup(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Copy the vault beside itself before an upgrade: `<name>.bak-<UTC time>`."""
    import datetime as _dt
    import shutil

    con.execute("CHECKPOINT")
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = path.with_name(f"{path.name}.bak-{stamp}")
    shutil.copy2(path, dest)
    _secure(dest)
    return dest


def open_vault(
    path: str | Path | None = None, *, read_only: bool = False, appends: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) the vault and return a DuckDB connection.

    A read-only open of a vault that does not exist yet first creates it with a short write connection; of a vault
    that needs migrating, raises VaultNeedsMigrationError (read-only opens never change an existing vault).
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
    if _empty_file(path):
        path.unlink()  # holds nothing (a vault killed while being created, or `touch`): it becomes a vault
    if not path.exists() or not read_only:
        small = APPEND_ROW_GROUP if appends and not read_only and path.exists() else None
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        con, _ = _checked(path, read_only=False, migrating=True, row_group_size=small)
        _secure(path)
        if not read_only:
            return con
        con.close()
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
    migrations it still needs (none once migrated). Migrations rewrite whole tables: under DuckDB's row group
    size, the connection then attached again with `row_group_size`."""
    con = _connect(path, read_only=read_only, row_group_size=row_group_size)
    try:
        remembered, pending = check_schema(con, path)
        if migrating and pending and row_group_size:
            _reattach(con, path, None)
        if migrating:
            migrated = migrate(con, path)
            reattached, pending = bool(pending and row_group_size), []
            if migrated or not remembered:
                remember_schema(con)
            if (migrated and _mostly_free(con)) or _older_storage(con):  # (also a rewrite a crash cut short)
                con = compact(con, path, row_group_size)
            else:
                _drop_stale_copy(path)
                if reattached:  # attached without it for the migrations: with it again for the appends
                    _reattach(con, path, row_group_size)
    except duckdb.IOException as e:  # a block that fails its checksum: damage (a lock shows at connect)
        con.close()
        raise VaultDamagedError(f"the vault {path} is damaged or unreadable: {str(e).splitlines()[0]}"
                                f"{_backups_hint(path)}") from None
    except BaseException:
        con.close()
        raise
    return con, pending


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


# A write smaller than this stays in the WAL (`settle`): DuckDB's checkpoint rewrites a changed table's primary-key
# index whole (messages' ~0.9 s of CPU on a 1 GB vault), whatever the size of the change.
# 0: always, for now. Leaving ~2 MB (one session) in the WAL lost index entries of the keyword index's `doc_msgs` when
# DuckDB 1.5.5 replayed it at the next open (docs/search.md, "Checkpoints").
SETTLE_WAL_BYTES = 0


def settle(con: duckdb.DuckDBPyConnection) -> bool:
    """After a write: checkpoint when the WAL holds more than SETTLE_WAL_BYTES, else leave the WAL for a later
    checkpoint (DuckDB's own at 16 MB, or the next large write), closing included. Either way every commit is
    durable (the WAL is replayed at the next open). Returns whether it checkpointed."""
    size = _wal_size(con)
    if size is None or size > SETTLE_WAL_BYTES:
        con.execute("CHECKPOINT")
        con.execute("PRAGMA enable_checkpoint_on_shutdown")
        return True
    if not size:  # nothing to leave: the setting (global to the database) stays as it is
        return False
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    with contextlib.suppress(OSError):  # it outlives this process now: as private as the vault
        os.chmod(f"{path}.wal", 0o600)
    return False


def checkpoint_large(con: duckdb.DuckDBPyConnection, min_bytes: int) -> bool:
    """Checkpoint now if the WAL holds more than `min_bytes`, else leave it to a later checkpoint (`settle`, or
    DuckDB's on closing: the setting `settle` leaves on). Returns whether it checkpointed."""
    size = _wal_size(con)
    if size is None or size > min_bytes:
        con.execute("CHECKPOINT")
        return True
    return False


def _wal_size(con: duckdb.DuckDBPyConnection) -> int | None:
    """The bytes of the vault's WAL (0: none); None for an in-memory database."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    if not path:
        return None
    try:
        return os.path.getsize(f"{path}.wal")
    except OSError:
        return 0


def get_meta(con: duckdb.DuckDBPyConnection, key: str, default: str | None = None) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def bump_content_version(con: duckdb.DuckDBPyConnection) -> int:
    """Content changed: indexes (FTS) compare this number with the one they were built at."""
    v = int(get_meta(con, "content_version", "0") or 0) + 1
    set_meta(con, "content_version", str(v))
    return v


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
            if time.monotonic() >= deadline:
                raise
            if not announced and path is not None:  # `vault mcp` closes its reader when it sees this
                with contextlib.suppress(OSError):
                    want_write_path(Path(path)).touch()
                announced = True
            time.sleep(0.05)


def want_write_path(path: Path) -> Path:
    """Touched by a process waiting for the vault, so readers that hold it between calls let go."""
    path = Path(path).expanduser()
    return path.with_name(path.name + ".want-write")
