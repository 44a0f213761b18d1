"""A private copy of the vault file, to read while another process holds its write lock.

DuckDB lets one process write a file, and a second process cannot even open it read-only meanwhile:
the TUI and the MCP server then read a copy, both through `VaultOrCopy`. The copy holds what the writer
last checkpointed (its WAL is not copied); it lives 0600 in its own temporary folder, removed by `drop`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from vault.connection import cursor_of
from vault.store import VaultError, VaultLockedError, connect, open_vault


class Snapshot:
    def __init__(self, vault: Path, prefix: str = "vault-snapshot-") -> None:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.path = folder / vault.name
        try:
            shutil.copy2(vault, self.path)
            os.chmod(self.path, 0o600)
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.taken = time.time()  # when it was copied (epoch seconds)

    def connect(self) -> duckdb.DuckDBPyConnection:
        return connect(self.path, read_only=True)

    def drop(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


class VaultOrCopy:
    """Connections for reading a vault: the file itself or, while another process holds its write lock, a copy
    (a `Snapshot`) taken then and reused until `drop`, or until it is older than `max_age` seconds (None: no age).

    Each call gives a connection of its own for the caller to close; those to the copy are cursors of the one
    connection this object keeps to it (the file is opened and its extensions loaded once, and a cursor may be
    used in a thread of its own)."""

    def __init__(self, vault: Path, prefix: str, max_age: float | None = None) -> None:
        self.vault = Path(vault)
        self.prefix = prefix
        self.max_age = max_age
        self.copy: Snapshot | None = None
        self.reason = ""  # why the vault itself was last not read (the lock holder named)
        self._copy_con: duckdb.DuckDBPyConnection | None = None

    def open(self, read_only: bool = True) -> tuple[duckdb.DuckDBPyConnection, Snapshot | None]:
        """(a connection to the vault, None) and the copy dropped; or, while a writer holds the vault, (a connection
        to the copy, the copy). VaultError when neither can be read."""
        try:
            con = open_vault(self.vault, read_only=read_only)
        except VaultLockedError as e:
            self.reason = str(e)
            return self.open_copy(self.reason), self.copy
        self.drop()
        return con, None

    def open_copy(self, reason: str = "") -> duckdb.DuckDBPyConnection:
        """A connection to the copy, taken now when there is none or it is older than `max_age`; VaultError (naming
        `reason`, why the vault itself cannot be read, or else what failed) when no copy can be taken."""
        if self.copy is None or (self.max_age is not None and time.time() - self.copy.taken > self.max_age):
            self.drop()
            snap = None
            try:
                snap = Snapshot(self.vault, prefix=self.prefix)
                self._copy_con = snap.connect()
            except (OSError, duckdb.Error) as e:
                if snap is not None:
                    snap.drop()
                raise VaultError(f"cannot read the vault {self.vault}: {reason or e}") from None
            self.copy = snap
        return cursor_of(self._copy_con)

    def drop(self) -> None:
        """Close the copy and remove it (connections the caller still holds to it fail from then on)."""
        if self._copy_con is not None:
            with contextlib.suppress(duckdb.Error):
                self._copy_con.close()
            self._copy_con = None
        if self.copy is not None:
            self.copy.drop()
            self.copy = None
