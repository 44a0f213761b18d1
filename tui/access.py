"""How the TUI reaches the vault: short connections, read-write when it can, else read-only, else a snapshot.

The app never holds the vault between actions, so `vault ingest` can run in another terminal while it is
open (a refresh then shows the new sessions). DuckDB allows one writing process per file, and a reader
cannot even open it while a writer holds it: then the app reads a copy taken when it (re)opened
(`vault.snapshot.VaultOrCopy`, as the MCP server does).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

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
        self._source = VaultOrCopy(self.path, prefix="vault-tui-")  # the copy is kept until reopen()
        self.on_snapshot = None  # called (from any thread) when a writer appears and reads move to a copy
        self.reopen()

    # -- mode ------------------------------------------------------------------------------
    def reopen(self) -> str:
        """Decide the mode again (after an ingest finished, say). Raises VaultError if nothing works."""
        self._source.drop()
        self.reason = "opened read-only (--read-only)" if self.forced_read_only else ""
        if not self.forced_read_only:
            try:
                open_vault(self.path).close()
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
        self._source.drop()

    # -- connections -----------------------------------------------------------------------
    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reading, closed afterwards. Falls back to a snapshot if a writer appeared."""
        if self.mode == SNAPSHOT:
            con = self._source.open_copy(self.reason)
        else:
            con, copy = self._source.open(read_only=self.mode == READ_ONLY)
            if copy is not None:
                self.reason, self.mode = self._source.reason, SNAPSHOT
                if self.on_snapshot:
                    self.on_snapshot()
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, or ReadOnlyError saying why there is none."""
        if not self.writable:
            raise ReadOnlyError(self.read_only_message())
        try:
            con = open_vault(self.path)
        except VaultLockedError as e:
            self.reason = str(e)
            raise ReadOnlyError(self.read_only_message()) from None
        try:
            yield con
        finally:
            con.close()

    def read_only_message(self) -> str:
        if self.forced_read_only:
            return "this needs write access: the app was started with --read-only."
        why = self.reason or f"the vault is open {self.mode}"
        return f"this needs write access: {why}. Press ctrl+r to reopen once the other process is done."
