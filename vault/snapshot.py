"""A private copy of the vault file, to read while another process holds its write lock.

DuckDB lets one process write a file, and a second process cannot even open it read-only meanwhile:
the TUI and the MCP server then read a copy. The copy holds what was committed when it was taken: the file
and its WAL (small ingests leave their changes there, `store.settle`; a transaction still being written
at the WAL's end is not replayed); it lives 0600 in its own temporary folder, removed by `drop`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from vault.store import connect


class Snapshot:
    def __init__(self, vault: Path, prefix: str = "vault-snapshot-") -> None:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.path = folder / vault.name
        try:
            shutil.copy2(vault, self.path)
            os.chmod(self.path, 0o600)
            wal = Path(f"{vault}.wal")
            if wal.exists():
                shutil.copyfile(wal, f"{self.path}.wal")
                os.chmod(f"{self.path}.wal", 0o600)
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.taken = time.time()  # when it was copied (epoch seconds)

    def connect(self) -> duckdb.DuckDBPyConnection:
        return connect(self.path, read_only=True)

    def drop(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)
