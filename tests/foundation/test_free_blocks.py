"""The first ingest leaves the file without free blocks, and later writers leave its row groups as they are.

A cold ingest commits a row group per group of files to its tables without indexes, and DuckDB's checkpoint merges runs
of row groups smaller than the writer's row group size, writing them again while the old copies stay until it ends:
at DuckDB's 122,880 rows the 1 GB archive's first `vault ingest` left 113 MB of free blocks (docs/storage.md). Every
writer is attached with `store.WRITE_ROW_GROUP` rows (16,384). Here scaled down with the corpus (2,048 rows, the
checkpoints every 1 MB of WAL, a commit every ~500 KB of source), against DuckDB's default size in the same test.
"""

from __future__ import annotations

from pathlib import Path

from support import CLAUDE_CORPUS, require_shared

from vault import ingest, store
from vault.connection import open_file
from vault.ingest import Ingester
from vault.settings import IngestSettings
from vault.store import open_vault

CORPUS = CLAUDE_CORPUS  # the examples (322 records) never fill a second row group
SCALED_ROWS = 2048  # WRITE_ROW_GROUP for a corpus ~1/60 of the 1 GB archive


def blocks(con) -> tuple[int, int, int]:
    return con.execute("SELECT total_blocks, used_blocks, free_blocks FROM pragma_database_size() "
                       "WHERE database_name = current_database()").fetchone()


def row_groups(con, table: str) -> int:
    return con.execute(f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('{table}')").fetchone()[0]


def first_ingest(db: Path, monkeypatch, rows: int | None) -> tuple[int, int, int]:
    require_shared()  # the scale (SCALED_ROWS, commit and checkpoint sizes) is set for this corpus
    monkeypatch.setattr(store, "WRITE_ROW_GROUP", rows)
    monkeypatch.setitem(ingest.INGEST_SETTINGS, "checkpoint_threshold", "1MB")
    monkeypatch.setattr(ingest, "COLD_CHECKPOINT", "1MB")  # (a first ingest is a cold one)
    con = open_vault(db)
    try:
        Ingester(con, batch_bytes=500_000, settings=IngestSettings(workers=1)).run([CORPUS])
        return blocks(con)
    finally:
        con.close()


def test_the_first_ingest_leaves_few_free_blocks(tmp_path, monkeypatch):
    total, used, free = first_ingest(tmp_path / "v.duckdb", monkeypatch, SCALED_ROWS)
    assert free <= max(2, total // 50), (total, used, free)
    # DuckDB's own size, the same ingest: its merges leave a share of the file free (the test can fail)
    with monkeypatch.context() as m:
        _, _, free_default = first_ingest(tmp_path / "d.duckdb", m, None)
    assert free_default > 3 * max(free, 1), (free_default, free)


def test_a_later_writer_leaves_the_row_groups_as_they_are(tmp_path, monkeypatch):
    db = tmp_path / "v.duckdb"
    first_ingest(db, monkeypatch, SCALED_ROWS)
    con = open_vault(db)
    before = {t: row_groups(con, t) for t in ("records", "record_chunks", "messages")}
    assert max(before.values()) > 1  # enough rows for DuckDB's size to merge
    con.execute("CREATE TABLE scratch (i INTEGER)")
    con.execute("INSERT INTO scratch VALUES (1)")
    con.execute("CHECKPOINT")
    assert {t: row_groups(con, t) for t in before} == before
    total, _, _ = blocks(con)
    con.close()
    # a writer of DuckDB's size merges them at its first checkpoint, every table, changed or not: the hazard
    con = open_file(db, read_only=False)
    try:
        con.execute("INSERT INTO scratch VALUES (2)")
        con.execute("CHECKPOINT")
        assert sum(row_groups(con, t) for t in before) < sum(before.values())
        assert blocks(con)[0] > total  # written again beside the old copies
    finally:
        con.close()


def test_a_new_vault_is_in_storage_version_and_its_writer_in_write_row_groups(tmp_path):
    """A new vault is created by a direct connect (ATTACH, which gives the row group size, would write v1.0.0),
    then attached again for its writer (spilling beside the vault)."""
    db = tmp_path / "v.duckdb"
    con = open_vault(db)
    try:
        assert not store.older_storage(con)
        # spills beside the vault, as a direct open's: an attached database's default is '.tmp' in the cwd, which
        # every process started there shared (one's close removed another's spill files mid-checkpoint)
        assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == f"{db}.tmp"
        con.execute("CREATE TABLE t (i INTEGER)")
        con.execute(f"INSERT INTO t SELECT * FROM range({store.WRITE_ROW_GROUP + 10})")
        con.execute("CHECKPOINT")
        assert row_groups(con, "t") == 2  # DuckDB's size: one
    finally:
        con.close()
