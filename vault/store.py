"""The vault file: opening it (with migrations, locks and permissions), and bulk writes.

DuckDB allows one writing process per file, and a second process cannot even open
it read-only while a writer holds it. `open_vault` turns that into a clear
`VaultLockedError` naming the holder; `read_snapshot` lets readers (the TUI) carry
on from a copy.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from vault import __version__
from vault.migrations import MIGRATIONS
from vault.errors import VaultError
from vault.paths import default_db_path


class VaultLockedError(VaultError):
    pass


class VaultTooNewError(VaultError):
    pass


_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<prog>.*?) \(PID (?P<pid>\d+)\)")


def _describe_holder(message: str) -> str:
    m = _LOCK_RE.search(message)
    if not m:
        return "another process"
    pid = m.group("pid")
    cmd = m.group("prog")
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        parts = [p for p in raw.decode(errors="replace").split("\0") if p]
        if parts:
            cmd = " ".join(parts)[:200]
    return f"process {pid} ({cmd})"


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        msg = str(e)
        if "lock" in msg.lower():
            raise VaultLockedError(
                f"the vault {path} is in use by {_describe_holder(msg)}; "
                "DuckDB allows one writer per file. Wait for it to finish, or use "
                "`vault tui` which can read from a snapshot."
            ) from None
        raise VaultError(f"cannot open the vault {path}: {msg}") from None


def _secure(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(p, 0o600)


def applied_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'migrations'"
    ).fetchone()[0]
    if not exists:
        return []
    return [r[0] for r in con.execute("SELECT name FROM migrations ORDER BY seq").fetchall()]


def pending_migrations(con: duckdb.DuckDBPyConnection, path: Path | str = "vault") -> list[str]:
    done = applied_migrations(con)
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
    funcs = dict(MIGRATIONS)
    for name in todo:
        seq = [n for n, _ in MIGRATIONS].index(name)
        con.execute("BEGIN")
        try:
            funcs[name](con)
            con.execute(
                "INSERT INTO migrations VALUES (?, ?, current_timestamp, ?)", [seq, name, __version__]
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    con.execute("CHECKPOINT")
    return todo


def backup(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Copy the vault beside itself before an upgrade: `<name>.bak-<UTC time>`."""
    con.execute("CHECKPOINT")
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = path.with_name(f"{path.name}.bak-{stamp}")
    shutil.copy2(path, dest)
    _secure(dest)
    return dest


def open_vault(
    path: str | Path | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) the vault and return a DuckDB connection.

    A read-only open of a vault that does not exist yet, or needs migrating, first
    creates or migrates it with a short write connection.
    """
    path = Path(path) if path is not None else default_db_path()
    path = path.expanduser()
    if str(path) == ":memory:":
        con = duckdb.connect(":memory:")
        migrate(con)
        return con
    if not path.exists() or not read_only:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        con = _connect(path, read_only=False)
        _secure(path)
        migrate(con, path)
        if not read_only:
            return con
        con.close()
    con = _connect(path, read_only=True)
    if pending_migrations(con, path):
        con.close()
        con = _connect(path, read_only=False)
        migrate(con, path)
        con.close()
        con = _connect(path, read_only=True)
    return con


@contextlib.contextmanager
def read_snapshot(path: str | Path | None = None) -> Iterator[tuple[duckdb.DuckDBPyConnection, bool]]:
    """Read the vault even while a writer holds it: open read-only, or else read a copy.

    Yields (connection, is_snapshot). The copy reflects the last checkpoint of the writer.
    """
    path = Path(path) if path is not None else default_db_path()
    try:
        con = open_vault(path, read_only=True)
    except VaultLockedError:
        tmpdir = tempfile.mkdtemp(prefix="vault-snapshot-")
        copy = Path(tmpdir) / path.name
        shutil.copy2(path, copy)
        os.chmod(copy, 0o600)
        con = duckdb.connect(str(copy), read_only=False)  # replays nothing: no WAL copied
        try:
            yield con, True
        finally:
            con.close()
            shutil.rmtree(tmpdir, ignore_errors=True)
        return
    try:
        yield con, False
    finally:
        con.close()


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


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    conflict: str = "",
) -> int:
    """Bulk-insert rows through Arrow (DuckDB's executemany is slow). Returns the rows offered.

    `conflict` is appended to the INSERT verb, e.g. "OR IGNORE" / "OR REPLACE".
    """
    import pyarrow as pa

    rows = list(rows)
    if not rows:
        return 0
    cols = list(zip(*rows, strict=True))
    table_arrow = pa.table({c: pa.array(v) for c, v in zip(columns, cols, strict=True)})
    name = f"_ins_{table}"
    con.register(name, table_arrow)
    try:
        collist = ", ".join(columns)
        con.execute(f"INSERT {conflict} INTO {table} ({collist}) SELECT {collist} FROM {name}")
    finally:
        con.unregister(name)
    return len(rows)


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
                       wait: float = 2.0) -> duckdb.DuckDBPyConnection:
    """`open_vault`, retrying for up to `wait` seconds while another process holds the vault.

    Readers that hold it only for a moment (`vault mcp`, the TUI) would otherwise make a writer fail.
    """
    import time

    deadline = time.monotonic() + wait
    announced = False
    while True:
        try:
            return open_vault(path, read_only=read_only)
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
