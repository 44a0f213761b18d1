"""m010_record_chunks: a vault with the previous layout (`records.raw`) migrates, with its backup copy,
and everything a person sees (sessions, show, search, mine, pairs, export) is the same before and after.

The previous layout is made here from a fresh vault: its records are written back into the
m001 `records` table and m010 is struck from the vault's history, as if this version never ran.
`bench/migration_check.py` does the same with the previous version's own code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import CLAUDE_CORPUS, CONVERSATIONS, CORPORA, EXAMPLES, forget_migration, needs_shared, run_cli
from test_lossless import assert_lossless
from vault_outputs import assert_same_outputs
from vault.migrations import MIGRATIONS
from vault.ingest import ingest
from vault.rawstore import META_COLUMNS, read_raw
from vault.sources import parser_by_name
from vault.store import applied_migrations, compact, connect, open_vault

M001_RECORDS = """
    CREATE TABLE records (
        file_id INTEGER NOT NULL, line_no INTEGER NOT NULL, byte_offset BIGINT, record_type VARCHAR,
        record_id VARCHAR, parent_id VARCHAR, session_id VARCHAR, raw VARCHAR NOT NULL)
"""


def to_previous_layout(db: Path) -> int:
    """Rewrite the vault as the version before m010 left it; returns the records moved."""
    con = connect(db)
    try:
        rows = list(read_raw(con, columns=META_COLUMNS))
        con.execute("DROP TABLE records; DROP TABLE record_chunks; DROP SEQUENCE chunk_ids")
        con.execute(M001_RECORDS)
        con.executemany(f"INSERT INTO records VALUES ({', '.join('?' * 8)})", rows)
        con.execute("UPDATE tool_calls SET result_text = r.result FROM tool_results r "
                    "WHERE r.tool_use_id = tool_calls.tool_use_id")
        con.execute("DROP VIEW tool_results")
        forget_migration(con, "m017_frame_pieces")  # (a vault before m010 had none of the later ones that touch it)
        forget_migration(con, "m010_record_chunks")
        con.execute("CHECKPOINT")
        return len(rows)
    finally:
        con.close()


def migrate_and_compare(tmp_path: Path, paths: list[Path]) -> None:
    new = tmp_path / "new.duckdb"
    assert run_cli("ingest", "--no-embed", *map(str, paths), db=new)[0] == 0
    old = tmp_path / "old.duckdb"
    shutil.copy(new, old)
    assert to_previous_layout(old) > 0
    con = connect(old, read_only=True)
    assert "raw" in {r[0] for r in con.execute("DESCRIBE records").fetchall()}
    con.close()

    con = open_vault(old)  # migrates, and rewrites the file if it is then mostly free blocks
    assert applied_migrations(con)[-1] == [n for n, _ in MIGRATIONS][-1]
    free, used = con.execute("SELECT free_blocks, used_blocks FROM pragma_database_size() "
                             "WHERE database_name = current_database()").fetchone()
    assert free <= used
    assert "raw" not in {r[0] for r in con.execute("DESCRIBE records").fetchall()}
    assert assert_lossless(con) > 0
    assert tool_outputs(con) == parsed_tool_outputs(con)
    con.close()
    backups = list(tmp_path.glob("old.duckdb.bak-*"))
    assert len(backups) == 1
    con = connect(backups[0], read_only=True)  # the backup keeps the previous layout
    assert con.execute("SELECT count(*) FROM records WHERE raw IS NOT NULL").fetchone()[0] > 0
    con.close()

    assert_same_outputs(new, old, tmp_path)

    # Ids continue after the rewrite: a new file gets a new file_id and new frames.
    extra = tmp_path / "more" / "extra.jsonl"
    extra.parent.mkdir()
    extra.write_bytes(next((EXAMPLES / "claude-code").rglob("*.jsonl")).read_bytes().replace(b'"uuid":"', b'"uuid":"x'))
    con = open_vault(old)
    ingest(con, [extra])
    assert con.execute("SELECT count(*) = count(DISTINCT file_id) FROM files").fetchone()[0]
    assert con.execute("SELECT count(*) = count(DISTINCT (chunk_id, piece)) FROM record_chunks").fetchone()[0]
    assert assert_lossless(con) > 0
    con.close()


def tool_outputs(con) -> dict[str, str | None]:
    return dict(con.execute("SELECT tool_use_id, result FROM tool_results").fetchall())


def parsed_tool_outputs(con) -> dict[str, str | None]:
    """Each tool call's output as its parser reads it from the files (the last file to name it wins)."""
    out: dict[str, str | None] = {}
    for path, source in con.execute("SELECT path, source FROM files WHERE source <> 'unrecognised' ORDER BY file_id"
                                    ).fetchall():
        for t in parser_by_name(source).parse(Path(path)).tool_calls:
            if t.result_text is not None or t.tool_use_id not in out:
                out[t.tool_use_id] = t.result_text
    return out


def test_tool_output_stored_once(tmp_path):
    """A tool's output lives in its result message; tool_calls.result_text only where it differs."""
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [EXAMPLES / "claude-code", CONVERSATIONS])
    outputs_ = tool_outputs(con)
    assert outputs_ == parsed_tool_outputs(con)
    assert sum(v is not None for v in outputs_.values()) > 20
    own = con.execute("SELECT count(result_text) FROM tool_calls").fetchone()[0]
    assert own < len(outputs_) / 10


def test_compact_gives_free_blocks_back_keeps_everything(tmp_path):
    db = tmp_path / "v.duckdb"
    con = open_vault(db)
    con.execute("CREATE TABLE filler AS SELECT repeat(md5(i::VARCHAR), 200) AS s FROM range(3000) t(i)")
    con.execute("CHECKPOINT")
    ingest(con, [EXAMPLES / "claude-code"])  # after the filler in the file: its blocks stay as free ones
    con.execute("DROP TABLE filler")
    con.execute("CHECKPOINT")
    before = db.stat().st_size
    records = assert_lossless(con)
    con = compact(con, db)
    assert db.stat().st_size < before / 2
    assert not (tmp_path / "v.duckdb.compact").exists()
    assert assert_lossless(con) == records
    n = con.execute("SELECT max(file_id) FROM files").fetchone()[0]
    assert con.execute("SELECT nextval('file_ids')").fetchone()[0] > n  # sequences continue
    con.close()
    assert run_cli("search", "webhook", "--mode", "keyword", "--json", db=db)[0] == 0


def test_first_ingest_into_a_new_vault_gives_free_blocks_back(tmp_path, monkeypatch):
    import vault.compact
    import vault.store as store

    calls = []
    real = store.compact_after_first_ingest
    monkeypatch.setattr(store, "compact_after_first_ingest", lambda con, path: calls.append(path) or real(con, path))
    db = tmp_path / "v.duckdb"
    assert run_cli("ingest", "--no-embed", str(EXAMPLES / "claude-code"), db=db)[0] == 0
    assert run_cli("ingest", "--no-embed", str(CONVERSATIONS), db=db)[0] == 0
    assert calls == [db]  # the first fill only

    con = open_vault(db)
    con.execute("CREATE TABLE filler AS SELECT repeat(md5(i::VARCHAR), 200) AS s FROM range(3000) t(i)")
    con.execute("CHECKPOINT")
    ingest(con, [CONVERSATIONS])
    con.execute("DROP TABLE filler")
    con.execute("CHECKPOINT")
    monkeypatch.setattr(vault.compact, "COMPACT_MIN_FREE", 0)
    records = assert_lossless(con)
    assert real(con, db)  # a quarter free: rewritten
    con = open_vault(db)
    assert assert_lossless(con) == records
    assert not real(con, db)  # nothing free now
    con.close()


def test_previous_layout_migrates_same_results(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    migrate_and_compare(tmp_path, [EXAMPLES / "claude-code", CONVERSATIONS])


@needs_shared
@pytest.mark.slow
def test_shared_corpus_migrates_same_results(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    migrate_and_compare(tmp_path, [CLAUDE_CORPUS, CORPORA / "conversations"])
