"""The writing process parses files itself while it waits for a worker (`vault.ingest_pool`), and the rows
are the same as with one process."""

from __future__ import annotations

from test_ingest_workers import _ingest, archive  # noqa: F401 (archive: a fixture)
from vault_tables import vault_tables as tables
from vault import ingest_pool


def test_writer_parses_while_it_waits_same_rows(archive, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(ingest_pool, "POOL_MIN_BYTES", 0)
    stolen = []

    class Counted(ingest_pool.Stolen):
        __slots__ = ()

        def __new__(cls, result):
            stolen.append(result)
            return super().__new__(cls, result)

    monkeypatch.setattr(ingest_pool, "Stolen", Counted)
    two = _ingest(tmp_path / "two.duckdb", [archive], workers=2)
    # the worker's start alone (a new interpreter) leaves the writer waiting for the first file
    assert stolen
    one = _ingest(tmp_path / "one.duckdb", [archive], workers=1)
    assert two.as_contract() == one.as_contract()
    assert tables(tmp_path / "two.duckdb") == tables(tmp_path / "one.duckdb")
