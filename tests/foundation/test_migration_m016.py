"""m016_text_zstd: the long texts of `tool_calls` compressed with zstd, in a v1.5.0 file.

- A new vault is created in `store.STORAGE_VERSION` and the tool calls' long texts are stored as ZSTD segments;
  `messages.text` is not (a keyword search reads its hits' texts by row: vault.migrations.m016_text_zstd).
- A vault of the previous layout (a v1.0.0 file, the columns without the option, m016 not applied) migrates,
  with its backup copy, into a rewritten v1.5.0 file; every table and everything a person sees (sessions,
  show, search, mine, pairs, export) is the same before and after, and the raw records are still lossless.
- A vault whose m016 was applied but whose rewrite a crash cut short (still v1.0.0) is rewritten at the next
  writer's open.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from support import CONVERSATIONS, EXAMPLES, ROOT, forget_migration, run_cli
from test_lossless import assert_lossless
from vault_outputs import assert_same_outputs, ingest_one_more_file
from vault_tables import vault_tables as tables
from vault.migrations import M012_INDEXES, M012_MESSAGES, M012_TOOL_CALLS, MIGRATIONS, ZSTD_COLUMNS, rebuild_table
from vault.store import CONNECT_CONFIG, STORAGE_VERSION, applied_migrations, connect, open_vault, storage_version

M016 = "m016_text_zstd"
PATHS = [EXAMPLES / "claude-code", CONVERSATIONS, ROOT / "tests" / "fixtures" / "claude_code"]


def as_v1_0(src: Path, dest: Path, *, previous_layout: bool) -> None:
    """Copy the vault `src` into a new file `dest` in DuckDB's default storage (v1.0.0), as the version before
    this one wrote vaults; `previous_layout`: also m012's columns (no zstd option) and m016 not applied."""
    con = duckdb.connect(config=dict(CONNECT_CONFIG))
    try:
        con.execute(f"ATTACH '{src}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{dest}' AS old")
        con.execute("COPY FROM DATABASE src TO old")
        con.execute("USE old")
        if previous_layout:
            rebuild_table(con, "messages", M012_MESSAGES, key="msg_id")
            rebuild_table(con, "tool_calls", M012_TOOL_CALLS, key="tool_use_id")
            forget_migration(con, M016)
        con.execute("CHECKPOINT old")
    finally:
        con.close()


def compressions(con) -> dict[tuple[str, str], set[str]]:
    """The compression of each segment of the zstd columns (Constant segments left out: all-null runs)."""
    out = {}
    for table, cols in ZSTD_COLUMNS.items():
        for col in cols:
            out[table, col] = {r[0] for r in con.execute(
                f"SELECT DISTINCT compression FROM pragma_storage_info('{table}') "
                "WHERE column_name = ? AND compression <> 'Constant'", [col]).fetchall()}
    return out


def test_new_vault_stores_long_texts_with_zstd(tmp_path):
    db = tmp_path / "v.duckdb"
    assert run_cli("ingest", "--no-embed", str(EXAMPLES / "claude-code"), db=db)[0] == 0
    con = connect(db, read_only=True)
    assert storage_version(con) >= tuple(int(x) for x in STORAGE_VERSION[1:].split("."))
    found = compressions(con)
    assert found["tool_calls", "input"] == {"ZSTD"} and "ZSTD" in found["tool_calls", "result_text"]
    assert "ZSTD" not in {r[0] for r in con.execute(
        "SELECT compression FROM pragma_storage_info('messages') WHERE column_name = 'text'").fetchall()}
    con.close()


def test_previous_layout_migrates_same_results(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    new = tmp_path / "new.duckdb"
    assert run_cli("ingest", "--no-embed", *map(str, PATHS), db=new)[0] == 0
    old = tmp_path / "old.duckdb"
    as_v1_0(new, old, previous_layout=True)
    con = connect(old, read_only=True)
    assert storage_version(con) == (1, 0, 0) and M016 not in applied_migrations(con)
    assert "ZSTD" not in compressions(con)["tool_calls", "input"]  # the previous layout's long texts
    con.close()
    before = tables(old)

    con = open_vault(old)  # m016, then the file rewritten in STORAGE_VERSION
    assert applied_migrations(con) == [n for n, _ in MIGRATIONS]  # m016 among them
    assert storage_version(con) > (1, 0, 0)
    assert compressions(con)["tool_calls", "input"] == {"ZSTD"}
    assert {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()} >= set(
        M012_INDEXES.values())
    assert assert_lossless(con) > 0
    con.close()
    assert not (tmp_path / "old.duckdb.compact").exists()
    assert tables(old) == before  # every row of every table, message order included
    (backup,) = tmp_path.glob("old.duckdb.bak-*")
    con = connect(backup, read_only=True)  # the backup keeps the previous file and layout
    assert storage_version(con) == (1, 0, 0) and M016 not in applied_migrations(con)
    con.close()

    assert_same_outputs(new, old, tmp_path)

    # the migrated vault takes more: a new file's rows go in with the same layout
    ingest_one_more_file(old, tmp_path)
    con = connect(old, read_only=True)
    assert compressions(con)["tool_calls", "input"] == {"ZSTD"}
    assert assert_lossless(con) > 0
    con.close()


@pytest.mark.parametrize("appends", [False, True])
def test_rewrite_cut_short_is_done_at_the_next_open(tmp_path, appends):
    """m016 committed, the process killed before the rewrite: the vault is at m016 in a v1.0.0 file."""
    new = tmp_path / "new.duckdb"
    assert run_cli("ingest", "--no-embed", str(EXAMPLES / "claude-code"), db=new)[0] == 0
    old = tmp_path / "old.duckdb"
    as_v1_0(new, old, previous_layout=False)
    before = tables(old)
    con = connect(old, read_only=True)
    assert storage_version(con) == (1, 0, 0) and M016 in applied_migrations(con)
    con.close()
    shutil.copy(old, tmp_path / "copy.duckdb")

    con = open_vault(old, appends=appends)
    assert storage_version(con) > (1, 0, 0)
    assert compressions(con)["tool_calls", "input"] == {"ZSTD"}
    con.close()
    assert tables(old) == before
    assert not list(tmp_path.glob("old.duckdb.bak-*"))  # nothing migrated: the file is only rewritten

    con = open_vault(tmp_path / "copy.duckdb", read_only=True)  # a reader leaves the file as it is
    assert storage_version(con) == (1, 0, 0)
    con.close()


def test_compact_out_of_memory_under_its_cap_copies_again_without(tmp_path, monkeypatch):
    import vault.compact as compact

    db = tmp_path / "v.duckdb"
    assert run_cli("ingest", "--no-embed", str(EXAMPLES / "claude-code"), db=db)[0] == 0
    before = tables(db)
    caps = []
    real = compact._copy_database

    def copy(con, name, tmp):
        caps.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        return real(con, name, tmp)

    monkeypatch.setattr(compact, "_copy_database", copy)
    monkeypatch.setattr(compact, "COMPACT_MEMORY", "1MB")
    con = compact.compact(connect(db), db)
    con.close()
    # out of memory under the cap, then under the connection's limit (DuckDB's default: GiB here)
    assert len(caps) == 2 and caps[0] == "976.5 KiB" and caps[1].endswith("GiB")
    assert not (tmp_path / "v.duckdb.compact").exists()
    assert tables(db) == before
