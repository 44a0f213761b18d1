"""The MCP tools' read connections (`SnapshotReader`): the vault opened read-only for the tools' calls and let go
whenever a writer wants it.

`vault ingest` (and the hooks) must be able to write between calls: the connection is closed when idle or when a
writer announces itself, and while another process holds the write lock, calls read a copy taken then (as the TUI
does: `vault.snapshot.VaultOrCopy`), kept until the lock is gone or the copy is older than SNAPSHOT_MAX_AGE. The one write is the derived keyword
index, rebuilt when stale and the vault is free, as `vault search` does. The tools themselves are
`vault.mcp_tools`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vault.errors import VaultError

SNAPSHOT_MAX_AGE = 60.0  # seconds a copy is reused while a writer holds the vault
IDLE_CLOSE = 1.0  # seconds without a call after which the live connection is closed (writers get in)
WATCH_EVERY = 0.05  # how often the release thread looks
WRITER_GRACE = 3.0  # a writer that announced itself this recently may still be waiting for the vault
YIELD_FOR = 0.25  # seconds a call waits before reopening the vault, once per writer's announcement


class SnapshotReader:
    """Read connections for the tools, one call at a time.

    Opening the vault and loading the FTS extension cost ~0.3 s, so the connection is kept between calls
    that come close together, and closed after IDLE_CLOSE seconds without a call, or at once when a
    writer announces itself (`vault.store.open_vault_waiting` touches `<vault>.want-write` while it
    waits): a reader's read-only connection would make any writer fail, so it is never held for long.
    While another process holds the write lock, calls read a copy of the file (see the module docstring).
    """

    def __init__(self, db: Path) -> None:
        from vault.snapshot import VaultOrCopy
        from vault.store import want_write_path

        self.db = Path(db)
        self._want = want_write_path(self.db)
        self._lock = threading.RLock()  # one call at a time on the connection
        self._con = None
        self._con_is_snapshot = False
        self._last_use = 0.0
        self._want_seen = self._want_yielded = self._want_mtime()
        self._source = VaultOrCopy(self.db, prefix="vault-mcp-", max_age=SNAPSHOT_MAX_AGE)
        self._closed = threading.Event()
        threading.Thread(target=self._watch, daemon=True, name="vault-mcp-release").start()

    @contextlib.contextmanager
    def read(self) -> Iterator[tuple[Any, str | None]]:
        """(connection, None) or, while the vault is busy, (connection to a copy, the copy's time)."""
        with self._lock:
            con, taken = self._connection()
            try:
                yield con, taken
            finally:
                self._last_use = time.monotonic()

    def _connection(self):
        """The live connection, or a copy's while a writer holds the vault; a vault that does not exist is the
        read-only open's `VaultMissingError`."""
        if self._con is not None and not self._con_is_snapshot:
            return self._con, None
        want = self._want_mtime()
        if want != self._want_yielded and time.time() - want < WRITER_GRACE:
            # A writer is waiting for the vault: give it the moment to take it (it looks every 50 ms).
            self._want_yielded = want
            time.sleep(YIELD_FOR)
        self._close_connection()  # a cursor of the copy's connection, if any: the copy may be retaken or dropped
        con, copy = self._source.open(read_only=True)
        self._con, self._con_is_snapshot = con, copy is not None
        return con, (None if copy is None else
                     _dt.datetime.fromtimestamp(copy.taken, _dt.UTC).isoformat(timespec="seconds"))

    def _close_connection(self) -> None:
        if self._con is not None:
            with contextlib.suppress(Exception):
                self._con.close()
            self._con = None

    def _release(self) -> None:
        """Close the connection and drop the copy (the lock is held by the caller)."""
        self._close_connection()
        self._source.drop()

    def _want_mtime(self) -> float:
        try:
            return self._want.stat().st_mtime
        except OSError:
            return 0.0

    def _watch(self) -> None:
        """Let writers in: close the live connection when idle, or when one is waiting for the vault."""
        while not self._closed.wait(WATCH_EVERY):
            if self._con is None or self._con_is_snapshot:
                continue
            want = self._want_mtime()
            if want != self._want_seen or time.monotonic() - self._last_use > IDLE_CLOSE:
                with self._lock:
                    self._want_seen = want
                    if self._con is not None and not self._con_is_snapshot:
                        self._con.close()
                        self._con = None

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._release()

    def refresh_keyword_index(self) -> str | None:
        """Rebuild a stale keyword index if the vault is free; a note for the answer when it stays stale."""
        from vault.index import fts
        from vault.store import VaultLockedError, open_vault

        with self.read() as (con, _):
            if not fts.needs_rebuild(con):
                return None
            exists = fts.index_exists(con)
        with self._lock:
            if self._con is not None and not self._con_is_snapshot:
                self._con.close()  # our own reader would keep the writer out
                self._con = None
            try:  # failing costs a millisecond: try on every stale search, the vault may be free again
                con = open_vault(self.db)
            except VaultLockedError:
                pass
            else:
                try:
                    fts.ensure_index(con)
                    return None
                finally:
                    con.close()
        if not exists:
            raise VaultError("the keyword index is not built yet and the vault is busy; try again shortly "
                             "(or run `vault search` once)")
        return "the keyword index is older than the newest sessions (the vault is busy); they may be missing"
