"""Opening the vault's file: DuckDB's settings, locks, the file checks, and what a connection does after writing.

The bottom of the vault's file handling (`vault.schema` and `vault.compact` sit on it, `vault.store` on all three).
DuckDB allows one writing process per file, and a second process cannot even open it read-only while a writer
holds it: `open_file` turns that into a clear `VaultLockedError` naming the holder.

Every connection is made by `connect`, which turns off DuckDB's automatic extension install and load: a file
DuckDB could attach with an extension (an SQLite database) would otherwise make it download one. The only
extensions loaded are the pinned packages (`load_extension`). A file that is not a DuckDB database is refused
before DuckDB sees it (`check_file`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb

from vault.errors import VaultError
from vault.sqlstring import sql_name, sql_string

T = TypeVar("T")


class VaultLockedError(VaultError):
    pass


class NotAVaultError(VaultError):
    pass


class VaultDamagedError(VaultError):
    pass


class VaultMissingError(VaultError):
    """A read-only open of a vault that does not exist: reading never creates one (only `vault ingest` does)."""


def missing_vault(path: str | Path) -> VaultMissingError:
    """The one line for a reader given a vault that does not exist, or an empty file (a vault killed while being
    created, `touch`), which only a writer makes a vault of. (The CLI's own line also names where the path came
    from: `vault.cli.common.existing_db_path`.)"""
    empty = " (an empty file)" if os.path.lexists(path) else ""
    return VaultMissingError(f"no vault at {path}{empty}: `vault ingest` creates one")


# No extension is installed or loaded behind our back (that would be a download).
CONNECT_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

DUCKDB_MAGIC = b"DUCK"  # bytes 8-12 of every DuckDB database file


def connect(path: str | Path = ":memory:", *, read_only: bool = False,
            row_group_size: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never installs or loads an extension by itself.

    A file whose WAL DuckDB cannot replay on a direct open is replayed by `_replay_wal_attached`
    first (see there), then opened as usual. `row_group_size`: the file is attached from an in-memory
    database with this row group size for what is appended (`APPEND_ROW_GROUP`).
    """
    if not read_only and str(path) != ":memory:":
        private_files()
    try:
        return _open(path, read_only, row_group_size)
    except duckdb.InternalException:
        if str(path) == ":memory:" or not Path(f"{path}.wal").is_file():
            raise
    private_files()  # (the replay writes into the file, read-only open or not)
    _replay_wal_attached(Path(path))
    return _open(path, read_only, row_group_size)


def private_files() -> None:
    """From now on this process creates files only its owner can read (umask 077 added to its own).

    A vault writer's files beside the vault hold conversation text: the WAL (DuckDB creates it again at the first
    commit after each checkpoint, 0644 under the usual umask 022, while the vault file is 0600), the spill
    folder `<vault>.tmp` and its files. DuckDB gives no mode option, so the umask does it, for the rest of the
    process (a connection's end is not tracked; whatever else a writer creates holds the same text). Two
    syscalls, well under a microsecond; `secure` and `settle` still chmod what an older version left.
    """
    old = os.umask(0o077)
    if old | 0o077 != 0o077:  # keep any stricter bits the process had
        os.umask(old | 0o077)


def _open(path: str | Path, read_only: bool, row_group_size: int | None = None) -> duckdb.DuckDBPyConnection:
    if row_group_size is None or read_only or str(path) == ":memory:":
        config = dict(CONNECT_CONFIG)
        if not read_only and str(path) != ":memory:" and not os.path.lexists(path):  # a new file: STORAGE_VERSION
            config["storage_compatibility_version"] = STORAGE_VERSION
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    else:
        con = duckdb.connect(config=dict(CONNECT_CONFIG))
        try:
            # Where a direct open spills: an in-memory database's default is '.tmp' in the cwd, shared by every process
            # started there (one's close removed it under another's checkpoint: "Cannot open file .tmp/...").
            con.execute(f"SET temp_directory = {sql_string(str(path) + '.tmp')}")
            _attach_as_default(con, Path(path), row_group_size)
        except BaseException:
            con.close()
            raise
    # DuckDB draws a progress bar on stdout for a query over 2 s, even into a pipe: on a large vault
    # it landed inside `vault ingest --json`'s output. A per-connection setting (not a config key).
    con.execute("SET enable_progress_bar = false")
    return con


# The storage format a vault file is created in (and an older one rewritten into, `vault.compact`): DuckDB writes a new
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


def older_storage(con: duckdb.DuckDBPyConnection) -> bool:
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


def cursor_of(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new connection to `con`'s database for another thread (DuckDB's `cursor`), set up as `_open` sets `con`: a
    cursor starts in the instance's default catalog (`memory` for a vault ATTACHed by a writer) and draws progress
    bars. Call it in the thread that owns `con` (or under its lock)."""
    name = con.execute("SELECT current_database()").fetchall()[0][0]  # all: a result left open keeps its
    # transaction open, and a cursor's CHECKPOINT (the keyword index build) then fails ("other write transactions")
    cur = con.cursor()
    try:
        cur.execute(f"USE {sql_name(name)}")
        cur.execute("SET enable_progress_bar = false")
    except BaseException:
        cur.close()  # a half-made cursor is not left open
        raise
    return cur


def _attach_as_default(con: duckdb.DuckDBPyConnection, path: Path, row_group_size: int | None) -> None:
    """ATTACH the vault file to `con` (an in-memory database) with `row_group_size` (None: DuckDB's), and USE it."""
    option = f" (ROW_GROUP_SIZE {int(row_group_size)})" if row_group_size else ""
    con.execute(f"ATTACH {sql_string(path)} AS {ATTACHED_AS}{option}")
    con.execute(f"USE {ATTACHED_AS}")


def reattach(con: duckdb.DuckDBPyConnection, path: Path, row_group_size: int | None) -> None:
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
    con.execute(f"ATTACH {sql_string(path)} AS {alias}")


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
    con.execute(f"LOAD {sql_string(files[-1])}")


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


def backups_hint(path: Path) -> str:
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


def open_file(path: Path, read_only: bool, row_group_size: int | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to the vault file `path` (checked first); a read-only one to a missing file raises
    `VaultMissingError` (DuckDB's refusal would otherwise read as damage)."""
    check_file(path)
    if read_only and not os.path.lexists(path):
        raise missing_vault(path)
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
    raise VaultDamagedError(f"cannot open the vault {path} (damaged or unreadable): {error}{backups_hint(path)}")


def check_writable(path: Path) -> None:
    """Refuse a writer, naming what is wrong, where the OS would refuse its writes: a vault in a folder the user
    cannot write (DuckDB creates the file and, at each commit, `<vault>.wal` there) or a vault file the user
    cannot write. DuckDB's own refusal read as damage ("damaged or unreadable"), or came at the first commit after
    the work was done. Read-only commands open such a vault all the same. Two access() calls."""
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        if not os.path.lexists(path):
            raise VaultError(f"cannot create the vault {path}: its folder {folder} is not writable; choose another "
                             "place with --db or VAULT_DB, or make the folder writable")
        raise VaultError(f"cannot write the vault {path}: its folder {folder} is not writable (a writer keeps "
                         f"{path.name}.wal beside the vault); read-only commands still work")
    if os.path.lexists(path) and not os.access(path, os.W_OK):
        raise VaultError(f"cannot write the vault {path}: the file is not writable; read-only commands still work")


def secure(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(p, 0o600)


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


def reset_memory_limit(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB's default memory cap again. `RESET memory_limit` alone is not enough in DuckDB 1.5.5: it shows the
    default but leaves the buffer pool at the last value SET (a sort then still runs out of memory under the old
    cap; tests/foundation/test_ingest_memory_retry.py), so the default is SET explicitly first, then RESET (which
    then reports the default exactly, not as the SET value rounded to 0.1 GiB)."""
    con.execute("RESET memory_limit")
    default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.execute(f"SET memory_limit = {sql_string(default)}")
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
            con.execute(f"SET memory_limit = {sql_string(cap)}")
        try:
            return run()
        except errors:
            changed = True
            if roomy is None:
                reset_memory_limit(con)
            else:
                con.execute(f"SET memory_limit = {sql_string(roomy)}")
            return run()
    finally:
        if changed:
            if restore:
                restore()
            else:
                con.execute(f"SET memory_limit = {sql_string(before)}")


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
