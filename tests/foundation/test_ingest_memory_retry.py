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


def _threshold(con) -> str:
    return con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0]


def test_a_cold_ingest_checkpoints_less_often_and_an_incremental_one_as_before(tmp_path, monkeypatch):
    """A cold start's file commits run under COLD_CHECKPOINT_THRESHOLD (each checkpoint rewrites the partly filled
    row groups: docs/foundation.md), an ingest into a vault holding rows under INGEST_SETTINGS'; both reset after."""
    archive = copy_mixed_archive(tmp_path / "archive")
    seen: list[str] = []
    real_commit = Ingester._commit
    monkeypatch.setattr(Ingester, "_commit", lambda self, batch: seen.append(_threshold(self.con))
                        or real_commit(self, batch))
    probe = duckdb.connect()
    cold, usual = (_as_duckdb_says_setting(probe, "checkpoint_threshold", v)
                   for v in (ingest.COLD_CHECKPOINT_THRESHOLD, ingest.INGEST_SETTINGS["checkpoint_threshold"]))
    assert cold != usual
    db = tmp_path / "v.duckdb"
    con = open_vault(db)
    try:
        default = _threshold(con)
        Ingester(con, settings=IngestSettings(workers=1, batch_bytes=1)).run([archive / "examples"])
        assert seen and set(seen) == {cold}
        assert _threshold(con) == default
        seen.clear()
        Ingester(con, settings=IngestSettings(workers=1, batch_bytes=1)).run([archive])
        assert seen and set(seen) == {usual}
        assert _threshold(con) == default
    finally:
        con.close()


def _as_duckdb_says_setting(con, name: str, value: str) -> str:
    con.execute(f"SET {name} = '{value}'")
    return con.execute(f"SELECT current_setting('{name}')").fetchone()[0]
