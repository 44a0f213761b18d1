"""A keyword search runs its lookups with DuckDB's IN-list rewrite off (`fts.point_lookups`). The setting is the
database's (DuckDB has no per-connection one), so a search must leave it exactly as it found it, whatever happens inside;
and what a search finds must not depend on it."""

from __future__ import annotations

import contextlib

import pytest

from vault.index import fts
from vault.index.fts import TOOL_CALL_TIER
from vault.index.search import SearchFilters, hybrid_search, keyword_search
from vault.store import open_vault

QUERIES = ["test", "file", "error read", '"read yet"', "zzzunknownword", ""]


def _setting(con) -> str:
    return con.execute(f"SELECT {fts.SETTING}").fetchone()[0]


@pytest.mark.parametrize("before", ["", "join_order", "in_clause", "in_clause,join_order"])
def test_a_search_leaves_the_setting_as_it_found_it(ex_db, before):
    con = open_vault(ex_db)
    try:
        fts.ensure_index(con)
        con.execute(f"SET disabled_optimizers = '{before}'")
        for q in QUERIES:
            keyword_search(con, q, limit=5)
            keyword_search(con, q, limit=5, filters=SearchFilters(human_only=True))
            hybrid_search(con, q, limit=5)
            assert _setting(con) == before, q
    finally:
        con.close()


def test_the_setting_is_put_back_after_an_error_and_turned_on_for_many_keys(ex_db):
    con = open_vault(ex_db)
    try:
        con.execute("SET disabled_optimizers = 'join_order'")
        with pytest.raises(RuntimeError), fts.point_lookups(con):
            assert _setting(con) == "in_clause,join_order"
            raise RuntimeError("inside")
        assert _setting(con) == "join_order"
        with fts.point_lookups(con):
            assert fts.key_rows(con, f"SELECT {fts.SETTING}", 3) == [("in_clause,join_order",)]
            assert fts.key_rows(con, f"SELECT {fts.SETTING}", fts.MANY_KEYS + 1) == [("join_order",)]
            assert _setting(con) == "in_clause,join_order"
        assert _setting(con) == "join_order"
    finally:
        con.close()


def test_what_a_search_finds_does_not_depend_on_the_setting(ex_db, monkeypatch):
    con = open_vault(ex_db)
    try:
        fts.ensure_index(con)
        filters = [SearchFilters(), SearchFilters(kinds=("tool_call", "tool_result")), SearchFilters(human_only=True)]
        queries = [q for q in QUERIES if q] + ["tool", "bash", "commit", "the test file"]
        got = [keyword_search(con, q, limit, f) for q in queries for limit in (1, 7, 30) for f in filters]
        assert sum(map(len, got)) > 50
        monkeypatch.setattr(fts, "point_lookups", lambda *a, **k: contextlib.nullcontext())
        monkeypatch.setattr(fts, "MANY_KEYS", 10**9)
        assert [keyword_search(con, q, limit, f) for q in queries for limit in (1, 7, 30) for f in filters] == got
    finally:
        con.close()


def test_a_text_or_tool_call_document_stands_for_one_message(ex_db):
    """`fts.best` reads such documents' messages without the cap on `n` (only a tool output is shared)."""
    con = open_vault(ex_db)
    try:
        fts.ensure_index(con, force=True)
        rows = con.execute(f"""SELECT d.tier, count(*), max(m.n) FROM {fts.SCHEMA}.docs d
                               JOIN {fts.SCHEMA}.doc_msgs m USING (docid) GROUP BY d.docid, d.tier""").fetchall()
        assert {t for t, _, _ in rows} >= {0, 1}
        assert all((c, n) == (1, 1) for t, c, n in rows if t <= TOOL_CALL_TIER)
    finally:
        con.close()
