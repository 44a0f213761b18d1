"""m017_frame_pieces: the raw records' zstd frames stored in pieces that DuckDB keeps inline.

- A new vault stores every frame in pieces of at most `rawstore.PIECE_BYTES` (under DuckDB's 4 KiB limit): no
  segment of `record_chunks.data` has overflow string blocks (main's one-row-a-frame layout has them: the strings
  DuckDB held in memory outside its cap during a cold ingest, docs/foundation.md).
- A vault of the previous layout (m010's `record_chunks`, one frame a row, m017 not applied) migrates, with its
  backup copy: the same frames byte for byte, every table and everything a person sees (sessions, show, search,
  mine, pairs, export) the same before and after, lossless, and a file ingested after it goes in pieces.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from support import CONVERSATIONS, EXAMPLES, ROOT, forget_migration, run_cli
from test_lossless import assert_lossless
from vault_outputs import assert_same_outputs, ingest_one_more_file
from vault_tables import vault_tables as tables
from vault import rawstore
from vault.bulk import insert_rows
from vault.migrations import MIGRATIONS
from vault.store import applied_migrations, connect, open_vault

M017 = "m017_frame_pieces"
PATHS = [EXAMPLES / "claude-code", CONVERSATIONS, ROOT / "tests" / "fixtures" / "claude_code"]
BLOCK_LIMIT = 4096  # DuckDB 1.5: a string this long or longer goes to overflow blocks


def frames(con) -> dict[int, tuple[int, bytes]]:
    """chunk_id -> (file_id, the whole zstd frame), in either layout."""
    cols = {r[0] for r in con.execute("DESCRIBE record_chunks").fetchall()}
    order = "chunk_id, piece" if "piece" in cols else "chunk_id"
    rows = con.execute(f"SELECT chunk_id, file_id, data FROM record_chunks ORDER BY {order}").fetchall()
    return {cid: (parts[0][1], b"".join(p[2] for p in parts))
            for cid, parts in ((cid, list(g)) for cid, g in itertools.groupby(rows, key=lambda r: r[0]))}


def overflow_segments(con) -> int:
    con.execute("CHECKPOINT")
    return con.execute("SELECT count(*) FROM pragma_storage_info('record_chunks') WHERE column_name = 'data' "
                       "AND segment_info LIKE '%Overflow%'").fetchone()[0]


def to_previous_layout(db: Path) -> dict[int, tuple[int, bytes]]:
    """Rewrite the vault's frames as m010 stored them (one row a frame, chunk_id its primary key), m017 struck
    from its history; returns the frames."""
    con = connect(db)
    try:
        old = frames(con)
        con.execute("DROP TABLE record_chunks")
        con.execute("CREATE TABLE record_chunks (chunk_id BIGINT PRIMARY KEY, file_id INTEGER NOT NULL, "
                    "data BLOB NOT NULL)")
        insert_rows(con, "record_chunks", ("chunk_id", "file_id", "data"),
                    [(cid, fid, data) for cid, (fid, data) in old.items()])
        forget_migration(con, M017)
        con.execute("CHECKPOINT")
        return old
    finally:
        con.close()


def test_new_vault_keeps_every_piece_inline(tmp_path):
    db = tmp_path / "v.duckdb"
    assert run_cli("ingest", "--no-embed", *map(str, PATHS), db=db)[0] == 0
    con = connect(db)
    longest, pieces, chunks = con.execute("SELECT max(octet_length(data)), count(*), count(DISTINCT chunk_id) "
                                          "FROM record_chunks").fetchone()
    assert longest == rawstore.PIECE_BYTES < BLOCK_LIMIT and pieces > chunks  # frames really cut
    assert overflow_segments(con) == 0
    assert assert_lossless(con) > 100
    con.close()


def test_previous_layout_migrates_same_results(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    new = tmp_path / "new.duckdb"
    assert run_cli("ingest", "--no-embed", *map(str, PATHS), db=new)[0] == 0
    before = tables(new)  # (this version's reader reads only the new layout: the copy's tables are these)
    old = tmp_path / "old.duckdb"
    old.write_bytes(new.read_bytes())
    stored = to_previous_layout(old)
    con = connect(old, read_only=True)
    assert M017 not in applied_migrations(con)
    assert con.execute("SELECT max(octet_length(data)) FROM record_chunks").fetchone()[0] >= BLOCK_LIMIT
    con.close()

    con = open_vault(old)  # m017 (after its backup copy)
    assert M017 in applied_migrations(con) and applied_migrations(con)[-1] == [n for n, _ in MIGRATIONS][-1]
    assert frames(con) == stored  # the same frames, byte for byte, under the same ids
    assert overflow_segments(con) == 0
    assert assert_lossless(con) > 0
    con.close()
    assert tables(old) == before  # every row of every table, each record's bytes included
    (backup,) = tmp_path.glob("old.duckdb.bak-*")
    con = connect(backup, read_only=True)  # the backup keeps the previous layout
    assert M017 not in applied_migrations(con) and "piece" not in {
        r[0] for r in con.execute("DESCRIBE record_chunks").fetchall()}
    con.close()

    assert_same_outputs(new, old, tmp_path)

    # the migrated vault takes more: a new file's frames go in pieces, after the ids it had
    ingest_one_more_file(old, tmp_path)
    con = connect(old)
    after = frames(con)
    assert set(stored) < set(after) and min(set(after) - set(stored)) > max(stored)
    assert overflow_segments(con) == 0
    assert assert_lossless(con) > 0
    con.close()
