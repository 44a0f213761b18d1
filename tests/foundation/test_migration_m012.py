"""m012_unique_indexes: the keys of `messages` and `tool_calls` as droppable unique indexes.

- A vault of the previous layout (primary keys) migrates, with its backup copy, and everything a person
  sees (sessions, show, search, mine, pairs, export) is the same before and after.
- A cold ingest drops the indexes and keeps ids unique itself: the rows equal those of an ingest that keeps
  the indexes all along, with messages and tool calls met again in later commit groups; the indexes are
  back after it, also when the run was killed before its end (the next run builds them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from support import CONVERSATIONS, EXAMPLES, ROOT, forget_migration, run_cli
from vault_tables import vault_tables as tables
from test_lossless import assert_lossless
from vault_outputs import assert_same_outputs
from vault import ingest as ingest_mod
from vault.ingest import Ingester
from vault.ingest_keys import StoredKeys
from vault.migrations import M012_INDEXES, M012_MESSAGES, M012_TOOL_CALLS, MIGRATIONS, rebuild_table
from vault.settings import IngestSettings
from vault.store import applied_migrations, connect, open_vault

M012 = "m012_unique_indexes"


def to_previous_layout(db: Path) -> None:
    """Rewrite the vault as m011 left it: primary keys on messages and tool_calls, m012 not applied."""
    con = connect(db)
    try:
        for table, cols, key in (("messages", M012_MESSAGES, "msg_id"), ("tool_calls", M012_TOOL_CALLS, "tool_use_id")):
            rebuild_table(con, table, cols.replace(f"{key} VARCHAR NOT NULL", f"{key} VARCHAR PRIMARY KEY"))
        forget_migration(con, M012)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def key_layout(con) -> tuple[set[str], set[str]]:
    indexes = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
    pks = {r[0] for r in con.execute("SELECT table_name FROM duckdb_constraints() "
                                     "WHERE constraint_type = 'PRIMARY KEY'").fetchall()}
    return indexes & set(M012_INDEXES.values()), pks & set(M012_INDEXES)


def test_previous_layout_migrates_same_results(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    paths = [EXAMPLES / "claude-code", CONVERSATIONS, ROOT / "tests" / "fixtures" / "claude_code"]
    new = tmp_path / "new.duckdb"
    assert run_cli("ingest", "--no-embed", *map(str, paths), db=new)[0] == 0
    old = tmp_path / "old.duckdb"
    shutil.copy(new, old)
    to_previous_layout(old)
    con = connect(old, read_only=True)
    assert key_layout(con) == (set(), {"messages", "tool_calls"})
    before = tables(old)
    con.close()

    con = open_vault(old)
    done = applied_migrations(con)  # m012 applied again; the migrations after it (m015+) were left applied
    assert M012 in done and done[-1] == [n for n, _ in MIGRATIONS][-1]
    assert key_layout(con) == (set(M012_INDEXES.values()), set())
    assert assert_lossless(con) > 0
    con.close()
    assert tables(old) == before  # every row of every table, message order included
    (backup,) = tmp_path.glob("old.duckdb.bak-*")
    con = connect(backup, read_only=True)  # the backup keeps the previous layout
    assert key_layout(con) == (set(), {"messages", "tool_calls"})
    con.close()

    assert_same_outputs(new, old, tmp_path)


def _archive(tmp_path: Path) -> Path:
    """Examples, fixtures (a resume: messages met again in another file; subagents: tool calls and their
    results in different files) and a second copy of one session, so later groups meet stored ids."""
    root = tmp_path / "archive"
    shutil.copytree(EXAMPLES / "claude-code", root / "examples")
    shutil.copytree(ROOT / "tests" / "fixtures" / "claude_code", root / "fixtures-cc",
                    ignore=shutil.ignore_patterns("*.md"))
    first = sorted((root / "examples").rglob("*.jsonl"))[0]
    (root / "zz-copy").mkdir()
    shutil.copy(first, root / "zz-copy" / "again.jsonl")
    return root


def _ingest(db: Path, root: Path) -> None:
    con = open_vault(db)
    try:  # tiny groups: nearly every file its own transaction
        Ingester(con, settings=IngestSettings(workers=1, batch_bytes=1)).run([root])
        assert key_layout(con)[0] == set(M012_INDEXES.values())
    finally:
        con.close()


def test_cold_ingest_without_indexes_keeps_ids_unique(tmp_path, monkeypatch):
    root = _archive(tmp_path)
    met: dict[str, int] = {}
    stored = StoredKeys.stored

    def spy(self, con, hashes, rows):
        found, span = stored(self, con, hashes, rows)
        met[self.table] = met.get(self.table, 0) + len(found)
        return found, span

    monkeypatch.setattr(StoredKeys, "stored", spy)
    _ingest(tmp_path / "cold.duckdb", root)
    cold = tables(tmp_path / "cold.duckdb")
    assert met["messages"] > 0 and met["tool_calls"] > 0  # ids met again in later groups, looked up
    met.clear()
    monkeypatch.setattr(ingest_mod, "_cold_start", ingest_mod._keyed_tables)  # the indexes kept all along
    _ingest(tmp_path / "keyed.duckdb", root)
    assert not met  # (conflicts left to the indexes)
    assert cold == tables(tmp_path / "keyed.duckdb")
    con = connect(tmp_path / "cold.duckdb", read_only=True)
    assert con.execute("SELECT count(*) = count(DISTINCT msg_id) FROM messages").fetchone()[0]
    assert con.execute("SELECT count(*) = count(DISTINCT tool_use_id) FROM tool_calls").fetchone()[0]
    con.close()


def _killed_then_rerun(db: Path, root: Path, expect_indexes: set[str]) -> None:
    con = open_vault(db)
    Ingester(con, settings=IngestSettings(workers=1, batch_bytes=1)).ingest_files(
        sorted((root / "examples").rglob("*.jsonl")))  # as if killed before `finish`
    assert key_layout(con)[0] == expect_indexes
    con.close()
    _ingest(db, root)  # the rest, meeting stored ids, then `finish`


def test_run_killed_before_its_end_leaves_indexes_to_the_next(tmp_path, monkeypatch):
    root = _archive(tmp_path)
    _killed_then_rerun(tmp_path / "v.duckdb", root, set())  # the re-run goes on without them, then builds them
    monkeypatch.setattr(ingest_mod, "_cold_start", ingest_mod._keyed_tables)
    _killed_then_rerun(tmp_path / "keyed.duckdb", root, set(M012_INDEXES.values()))
    assert tables(tmp_path / "v.duckdb") == tables(tmp_path / "keyed.duckdb")
