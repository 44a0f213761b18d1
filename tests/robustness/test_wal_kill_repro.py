"""bench/wal_kill_repro.py keeps working: its statement counter (an ingest whose statements on the vault file are
counted, and killed after the n-th) runs an ingest to its end, and a kill after one of its statements leaves a vault
that opens. The counter once broke unnoticed: wrapped, DuckDB no longer found the Arrow table vault.bulk names in SQL.
The bench itself (every statement, both opens) is too long for the suite."""

from __future__ import annotations

import sys

from support import ROOT, copy_mixed_archive

sys.path.insert(0, str(ROOT / "bench"))
import wal_kill_repro as repro  # noqa: E402


def test_the_statement_counter_runs_an_ingest_and_a_kill_after_a_statement_leaves_a_vault_that_opens(tmp_path):
    archive = copy_mixed_archive(tmp_path / "archive")
    files = sum(1 for p in archive.rglob("*") if p.is_file())
    count = tmp_path / "count"
    proc = repro.start(tmp_path / "counted.duckdb", archive, statement={"COUNT_FILE": str(count)})
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    total = int(count.read_text())
    assert total >= files  # one commit per file (VAULT_INGEST_BATCH_BYTES=1), each at least one statement

    db = tmp_path / "killed.duckdb"
    proc = repro.start(db, archive, statement={"KILL_AT_STATEMENT": str(total // 2), "KILL_MODE": "after"})
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 137, err.decode()[-2000:]  # killed by the counter, not ended on its own
    assert repro.reopen_error(db, "vault") is None
