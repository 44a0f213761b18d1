"""Index layout 7: a term's head postings name their message (`postings.msg`), so a search names its best typed texts and
tool calls without `doc_msgs`; the others (deeper postings, tool outputs) still go through it.

- The hits named from the postings are those named through `doc_msgs`: with every `msg` blanked, each ranking is the
  same; with every `msg` altered, the rankings change (the column is what names them).
- m018 migrates a vault whose index is at layout 6 (no `msg`), with its backup copy: the index's rows are those a build
  of this version makes, every table else is unchanged, a person sees the same (sessions, show, search, mine, export),
  and the next ingest updates the migrated index as it would a built one.

Runs on the bundled examples (no ../shared needed).
"""

from __future__ import annotations

import shutil

from foundation.vault_outputs import assert_same_outputs, ingest_one_more_file
from fts_state import index_contents, misnamed_postings, queries_of, rankings
from support import EXAMPLES, forget_migration, run_cli
from test_fts_incremental import _connect, _examples_vault, _rebuilt
from vault_tables import vault_tables as tables

from vault.index import fts, fts_build
from vault.store import applied_migrations, open_vault

M018 = "m018_postings_msg"
S = fts.SCHEMA


def test_hits_named_by_the_postings_are_those_doc_msgs_names(tmp_path, monkeypatch):
    monkeypatch.setattr(fts_build, "HEAD_MSGS", 3)  # few postings name their message: both paths in one ranking
    db, _ = _examples_vault(tmp_path)
    con = _connect(db)
    try:
        fts.ensure_index(con, force=True)
        assert misnamed_postings(con) == []
        named, unnamed = con.execute(f"SELECT count(msg), count(*) - count(msg) FROM {S}.postings").fetchone()
        assert named > 100 and unnamed > 100
        queries = queries_of(con) + ['"pre-commit hooks"', "commit", "error"]
        want = rankings(con, queries)
        assert sum(len(v) for v in want.values()) > 1000
        con.execute(f"UPDATE {S}.postings SET msg = 'x' || msg")
        assert rankings(con, queries) != want  # the column names the hits
        con.execute(f"UPDATE {S}.postings SET msg = NULL")
        assert rankings(con, queries) == want  # through doc_msgs: the same messages, scores and order
    finally:
        con.close()


def _to_layout_6(db) -> None:
    """Rewrite the vault's keyword index as layout 6 left it (postings without `msg`), m018 struck from its history."""
    con = _connect(db)
    try:
        con.execute(f"""CREATE TABLE {S}.p6 AS SELECT termid, docid, tier, tf, len, r FROM {S}.postings ORDER BY termid, r;
                        DROP TABLE {S}.postings; ALTER TABLE {S}.p6 RENAME TO postings;
                        UPDATE meta SET value = 'v6:' || substr(value, 4) WHERE key = '{fts.META_KINDS}'""")
        forget_migration(con, M018)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def test_a_layout_6_index_migrates_with_a_backup(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    new = tmp_path / "new.duckdb"
    assert run_cli("ingest", "--no-embed", str(EXAMPLES / "claude-code"), db=new)[0] == 0
    con = _connect(new)
    assert fts.built_kinds(con).startswith("v7:") and not fts.needs_rebuild(con)
    contents = index_contents(con)
    postings = con.execute(f"SELECT * FROM {S}.postings ORDER BY termid, r").fetchall()
    assert sum(p[6] is not None for p in postings) > 1000
    con.close()
    before = tables(new)

    old = tmp_path / "old.duckdb"
    shutil.copyfile(new, old)
    _to_layout_6(old)
    con = _connect(old, read_only=True)
    assert M018 not in applied_migrations(con) and fts.needs_rebuild(con)
    assert "msg" not in {r[0] for r in con.execute(f"DESCRIBE {S}.postings").fetchall()}
    con.close()

    con = open_vault(old)  # m018, after its backup copy
    try:
        assert applied_migrations(con)[-1] == M018
        assert not fts.needs_rebuild(con)  # layout 7 now: no build at the next search
        assert con.execute(f"SELECT * FROM {S}.postings ORDER BY termid, r").fetchall() == postings
        assert index_contents(con) == contents and misnamed_postings(con) == []
    finally:
        con.close()
    assert tables(old) == before
    (backup,) = tmp_path.glob("old.duckdb.bak-*")
    con = _connect(backup, read_only=True)  # the backup keeps layout 6
    assert M018 not in applied_migrations(con)
    assert "msg" not in {r[0] for r in con.execute(f"DESCRIBE {S}.postings").fetchall()}
    con.close()

    assert_same_outputs(new, old, tmp_path)

    ingest_one_more_file(old, tmp_path)  # updated in place, as a built index would be
    con = _connect(old, read_only=True)
    ref = _rebuilt(old, tmp_path)
    try:
        assert index_contents(con) == index_contents(ref)
        assert misnamed_postings(con) == []
        queries = queries_of(ref)[:12]
        assert rankings(con, queries) == rankings(ref, queries)
    finally:
        con.close()
        ref.close()


def test_m018_leaves_an_index_of_another_layout_to_the_next_build(tmp_path):
    db, _ = _examples_vault(tmp_path)
    con = _connect(db)
    con.execute(f"UPDATE meta SET value = 'v5:' || substr(value, 4) WHERE key = '{fts.META_KINDS}'")
    forget_migration(con, M018)
    con.close()
    con = open_vault(db)
    try:
        assert applied_migrations(con)[-1] == M018
        assert fts.built_kinds(con) != con.execute(
            f"SELECT value FROM meta WHERE key = '{fts.META_KINDS}'").fetchone()[0]  # still layout 5: built whole next
        assert fts.ensure_index(con)["fts_docs"] > 0 and not fts.needs_rebuild(con)
        assert misnamed_postings(con) == []
    finally:
        con.close()
