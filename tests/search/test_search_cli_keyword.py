"""`vault search --mode keyword` from the CLI: a stale BM25 index is rebuilt first, a fresh one is used as is."""

from __future__ import annotations

import json

from support import ROOT, run_cli

from vault.index import fts
from vault.ingest import ingest
from vault.store import open_vault

FIXTURE = ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout"


def test_keyword_search_rebuilds_a_stale_index_then_reuses_it(tmp_path):
    db = tmp_path / "v.duckdb"
    con = open_vault(db)
    ingest(con, [FIXTURE])  # a library ingest leaves the keyword index stale
    assert fts.needs_rebuild(con)
    con.close()

    code, out, err = run_cli("search", "--mode", "keyword", "--json", "review", "diff", db=db)
    assert code == 0, err
    first = json.loads(out)
    assert first and {h["session_id"][:4] for h in first} == {"3333"}
    con = open_vault(db, read_only=True)
    assert not fts.needs_rebuild(con)  # the CLI rebuilt and recorded it
    con.close()

    code, out, err = run_cli("search", "--mode", "keyword", "--json", "review", "diff", db=db)
    assert code == 0, err
    assert json.loads(out) == first
