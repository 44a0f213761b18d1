"""`vault.store.with_roomy_retry`: a step run under a small DuckDB memory cap, once more under a roomy one if it
runs out of memory, and the cap set back. The ingest uses it for a file that cannot be stored under its cap and for
the key indexes a cold start builds (the keyword index build and the migrations have their own tests)."""

from __future__ import annotations

import duckdb
import pytest

from support import copy_mixed_archive
from vault_tables import vault_tables as tables
from vault import ingest
from vault.ingest import Ingester
from vault.settings import IngestSettings
from vault.store import open_vault, with_roomy_retry


def _limit(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def _as_duckdb_says(con, value: str) -> str:
    before = _limit(con)
    con.execute(f"SET memory_limit = '{value}'")
    out = _limit(con)
    con.execute(f"SET memory_limit = '{before}'")
    return out


def _oom():
    raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block (a test)")


def test_runs_under_the_cap_then_the_roomy_one_and_sets_the_cap_back():
    con = duckdb.connect()
    con.execute("SET memory_limit = '300MiB'")
    before = _limit(con)
    caps = []

    def step():
        caps.append(_limit(con))
        if len(caps) == 1:
            _oom()
        return "done"

    assert with_roomy_retry(con, step, "700MB", cap="100MB") == "done"
    assert caps == [_as_duckdb_says(con, "100MB"), _as_duckdb_says(con, "700MB")]
    assert _limit(con) == before


def test_a_second_failure_and_other_errors_are_raised_with_the_cap_set_back():
    con = duckdb.connect()
    con.execute("SET memory_limit = '300MiB'")
    before = _limit(con)
    calls = []

    def always_oom():
        calls.append(_limit(con))
        _oom()

    with pytest.raises(duckdb.OutOfMemoryException):
        with_roomy_retry(con, always_oom, None, cap="100MB")
    default = _limit(duckdb.connect())
    assert calls == [_as_duckdb_says(con, "100MB"), default]  # roomy None: DuckDB's default
    assert _limit(con) == before

    calls.clear()

    def fails_otherwise():
        calls.append(1)
        raise duckdb.ConversionException("not memory")

    with pytest.raises(duckdb.ConversionException):
        with_roomy_retry(con, fails_otherwise, "700MB")
    assert calls == [1] and _limit(con) == before


def test_an_ingest_out_of_memory_stores_the_file_and_its_keys_under_the_roomy_cap(tmp_path, monkeypatch):
    """One file's commit and the key index build each run out of memory once under the ingest's cap: both are
    done again under ROOMY_MEMORY_LIMIT, the vault holds what a plain ingest stores, the cap is fitted again."""
    archive = copy_mixed_archive(tmp_path / "archive")

    def run(db):
        con = open_vault(db)
        try:
            return Ingester(con, settings=IngestSettings(workers=1, batch_bytes=1)).run([archive])
        finally:
            con.close()

    plain_rep = run(tmp_path / "plain.duckdb")

    caps: list[tuple[str, str]] = []
    real_commit, real_create = Ingester._commit, Ingester._create_key_indexes

    def commit(self, batch):
        caps.append(("commit", _limit(self.con)))
        if sum(1 for what, _ in caps if what == "commit") == 2:  # the second file's first try
            _oom()
        return real_commit(self, batch)

    def create(self, missing):
        caps.append(("keys", _limit(self.con)))
        if sum(1 for what, _ in caps if what == "keys") == 1:
            _oom()
        return real_create(self, missing)

    monkeypatch.setattr(Ingester, "_commit", commit)
    monkeypatch.setattr(Ingester, "_create_key_indexes", create)
    rep = run(tmp_path / "retried.duckdb")
    roomy = _as_duckdb_says(duckdb.connect(), ingest.ROOMY_MEMORY_LIMIT)
    commits = [c for what, c in caps if what == "commit"]
    assert commits[1] != roomy and commits[2] == roomy and commits[3] != roomy  # the cap fitted again
    keys = [c for what, c in caps if what == "keys"]
    assert keys[0] != roomy and keys[1] == roomy
    assert rep.errors == plain_rep.errors and rep.records == plain_rep.records and rep.files == plain_rep.files
    assert tables(tmp_path / "retried.duckdb", derived=True) == tables(tmp_path / "plain.duckdb", derived=True)



SORT_30_MB = "SELECT sum(x) FROM (SELECT i * 7 % 1000003 AS x FROM range(3000000) t(i) ORDER BY x)"


def test_the_default_cap_set_again_lifts_the_old_one():
    """DuckDB 1.5.5's `RESET memory_limit` shows the default but keeps the last cap SET: the sort below runs out
    of memory after it. `reset_memory_limit` (what the roomy retry with `roomy=None` and the ingest's end use)
    lifts it."""
    from vault.store import reset_memory_limit

    con = duckdb.connect()
    con.execute("SET temp_directory = ''")  # no spilling: the cap is what decides
    con.execute("SET memory_limit = '10MB'")
    with pytest.raises(duckdb.OutOfMemoryException):
        con.execute(SORT_30_MB).fetchone()
    reset_memory_limit(con)
    assert con.execute(SORT_30_MB).fetchone()[0] > 0
    con.execute("SET memory_limit = '10MB'")
    with_roomy_retry(con, lambda: con.execute(SORT_30_MB).fetchone(), roomy=None)  # the retry runs uncapped
