"""What a file commit records for `finish` (`vault.ingest._mark_pending`) and the content version it bumps: a few
sessions and files are named as constants (the hook's case), more through an Arrow table; either way the same rows,
quotes in a session id kept as they are, rows already pending left alone. `bump_content_version` is one statement:
from a missing or empty value it starts at 1, and it returns what it stored."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vault import ingest
from vault.schema import bump_content_version, get_meta
from vault.store import open_vault, transaction


def _pending(con):
    return (sorted(r[0] for r in con.execute("SELECT session_id FROM pending_sessions").fetchall()),
            sorted(r[0] for r in con.execute("SELECT file_id FROM pending_files").fetchall()))


@pytest.mark.parametrize("few", [ingest.FEW_PENDING, 0])
def test_pending_rows_are_the_same_as_constants_or_through_arrow(monkeypatch, few):
    monkeypatch.setattr(ingest, "FEW_PENDING", few)
    con = open_vault(":memory:")
    try:
        con.execute("INSERT INTO pending_sessions VALUES ('held')")
        con.execute("INSERT INTO pending_files VALUES (7)")
        before = int(get_meta(con, "content_version", "0") or 0)
        parsed = [(7, SimpleNamespace(session_ids=["o'brien's", "held", "b"])),
                  (9, SimpleNamespace(session_ids=["b", "c\\d"]))]
        with transaction(con):
            ingest._mark_pending(con, parsed)
        assert _pending(con) == (["b", "c\\d", "held", "o'brien's"], [7, 9])
        assert int(get_meta(con, "content_version")) == before + 1
    finally:
        con.close()


def test_bump_content_version_counts_from_missing_or_empty_and_returns_what_it_stored():
    con = open_vault(":memory:")
    try:
        con.execute("DELETE FROM meta WHERE key = 'content_version'")
        assert bump_content_version(con) == 1 and get_meta(con, "content_version") == "1"
        assert bump_content_version(con) == 2 and get_meta(con, "content_version") == "2"
        con.execute("UPDATE meta SET value = '' WHERE key = 'content_version'")
        with transaction(con):
            assert bump_content_version(con) == 1
        assert get_meta(con, "content_version") == "1"
        assert con.execute("SELECT count(*) FROM meta WHERE key = 'content_version'").fetchone()[0] == 1
    finally:
        con.close()
