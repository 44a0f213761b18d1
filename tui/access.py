"""How the TUI reaches the vault: short connections, read-write when it can, else read-only, else a snapshot.

The app never holds the vault between actions, so `vault ingest` can run in another terminal while it is
open (a refresh then shows the new sessions). DuckDB allows one writing process per file, and a reader
cannot even open it while a writer holds it: then the app reads a copy taken when it (re)opened
(`vault.snapshot.VaultOrCopy`, as the MCP server does).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb

from vault.connection import cursor_of
from vault.snapshot import VaultOrCopy
from vault.store import VaultError, VaultLockedError, open_vault

READ_WRITE, READ_ONLY, SNAPSHOT = "read-write", "read-only", "snapshot"


class ReadOnlyError(VaultError):
    """A review action on a vault the app could not open for writing."""


class VaultAccess:
    def __init__(self, path: str | Path | None, read_only: bool | None = None) -> None:
        from vault.settings import default_db_path

        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.forced_read_only = bool(read_only)
        self.mode = READ_WRITE
        self.reason = ""  # why the vault is not writable (the lock holder), shown to the person
        self._lock = threading.Lock()  # reads run in the search's thread too
        self._source = self._new_source()  # the copy is kept until reopen()
        self._readers = 0  # reads in progress on self._source
        self._retired: dict[VaultOrCopy, int] = {}  # copies reopen() replaced while read: their reads in progress
        self.on_snapshot = None  # called (from any thread) when a writer appears and reads move to a copy
        self._shared = threading.Condition()
        self._shared_con: duckdb.DuckDBPyConnection | None = None  # the read-write connection while in use
        self._shared_users = 0
        self._writing = False  # a write holds the connection alone
        self._mine = threading.local()  # this thread's uses of it (a write inside a read would wait for ever)
        self.reopen()

    # -- mode ------------------------------------------------------------------------------
    def reopen(self) -> str:
        """Decide the mode again (after an ingest finished, say). Raises VaultError if nothing works.

        A copy still being read (a search running in its thread) is left to that read, which drops it when done:
        the search ends on the data it started on, and the screens' reload asks it again of the vault as reopened."""
        self._let_go()
        self.reason = "opened read-only (--read-only)" if self.forced_read_only else ""
        if not self.forced_read_only:
            try:
                self._release(self._acquire())
                self.mode = READ_WRITE
                return self.mode
            except VaultLockedError as e:
                self.reason = str(e)
        try:
            open_vault(self.path, read_only=True).close()
            self.mode = READ_ONLY
        except VaultLockedError as e:
            self.reason = self.reason or str(e)
            self._take_snapshot()
        return self.mode

    @property
    def writable(self) -> bool:
        return self.mode == READ_WRITE

    def status(self) -> str:
        """One line for the header: the file name and the mode."""
        if self.mode == SNAPSHOT:
            return f"{self.path.name} · read-only snapshot (vault busy)"
        return f"{self.path.name} · {self.mode}"

    def _take_snapshot(self) -> None:
        self._source.open_copy(self.reason).close()
        self.mode = SNAPSHOT

    def close(self) -> None:
        with self._lock:
            sources = [self._source, *self._retired]
        for source in sources:
            source.drop()

    def _new_source(self) -> VaultOrCopy:
        return VaultOrCopy(self.path, prefix="vault-tui-")

    def _let_go(self) -> None:
        """Drop the copy now, or, while it is read, hand it to its readers (the last drops it) and start afresh."""
        with self._lock:
            source = self._source
            if self._readers:
                self._retired[source] = self._readers
                self._source, self._readers = self._new_source(), 0
                return
        source.drop()

    # -- connections -----------------------------------------------------------------------
    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reading, closed afterwards. Falls back to a snapshot if a writer appeared."""
        with self._lock:
            source = self._source
            self._readers += 1
        try:
            shared = self.mode == READ_WRITE
            if self.mode == SNAPSHOT:
                con = source.open_copy(self.reason)
            elif shared:
                try:
                    con = self._acquire()
                except VaultLockedError as e:  # a writer appeared: the copy, as VaultOrCopy.open does
                    shared, source.reason = False, str(e)
                    con = source.open_copy(source.reason)
                    self._now_snapshot(source.reason)
            else:
                con, copy = source.open(read_only=True)
                if copy is not None:
                    self._now_snapshot(source.reason)
            try:
                yield con
            finally:
                if shared:
                    self._release(con)
                else:
                    con.close()
        finally:
            self._done_reading(source)

    def _now_snapshot(self, reason: str) -> None:
        self.reason, self.mode = reason, SNAPSHOT
        if self.on_snapshot:
            self.on_snapshot()

    def _acquire(self, alone: bool = False) -> duckdb.DuckDBPyConnection:
        """A cursor of the one read-write connection this app has open, opened by the first user, closed by the
        last (`_release`): between actions the vault stays free for another writer (`vault ingest`, the hook).
        DuckDB 1.5 attaches a file once per process: two threads each opening the vault for writing (a search's
        thread and a screen's) made the second fail, "Unique file handle conflict" (25 of 60 such opens from two
        threads; two TUI tests on a loaded machine). `alone` (a write): waits until no read is in progress and
        holds off new ones meanwhile (the keyword index build checkpoints, which open transactions refuse).
        VaultLockedError when another process holds the vault."""
        if alone and getattr(self._mine, "uses", 0):
            raise RuntimeError("a write asked for inside a read of the same thread")  # (it would wait for ever)
        with self._shared:
            while self._writing or (alone and self._shared_users):
                self._shared.wait()
            if self._shared_con is None:
                self._shared_con = open_vault(self.path)
            try:
                cursor = cursor_of(self._shared_con)
            except BaseException:
                if not self._shared_users:  # opened for this use alone: nothing is left open
                    con, self._shared_con = self._shared_con, None
                    con.close()
                raise
            self._shared_users += 1
            self._writing = alone
        self._mine.uses = getattr(self._mine, "uses", 0) + 1
        return cursor

    def _release(self, cursor: duckdb.DuckDBPyConnection, alone: bool = False) -> None:
        cursor.close()
        self._mine.uses -= 1
        with self._shared:
            self._shared_users -= 1
            if alone:
                self._writing = False
            if not self._shared_users and self._shared_con is not None:
                con, self._shared_con = self._shared_con, None
                con.close()
            self._shared.notify_all()

    def _done_reading(self, source: VaultOrCopy) -> None:
        with self._lock:
            if source is self._source:
                self._readers -= 1
                return
            self._retired[source] -= 1
            if self._retired[source]:
                return
            del self._retired[source]
        source.drop()  # the last read of a copy reopen() replaced

    @contextlib.contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, or ReadOnlyError saying why there is none."""
        if not self.writable:
            raise ReadOnlyError(self.read_only_message())
        try:
            con = self._acquire(alone=True)
        except VaultLockedError as e:
            self.reason = str(e)
            raise ReadOnlyError(self.read_only_message()) from None
        try:
            yield con
        finally:
            self._release(con, alone=True)

    def read_only_message(self) -> str:
        if self.forced_read_only:
            return "this needs write access: the app was started with --read-only."
        why = self.reason or f"the vault is open {self.mode}"
        return f"this needs write access: {why}. Press ctrl+r to reopen once the other process is done."
