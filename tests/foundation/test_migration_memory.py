"""Migrations run under a memory cap (`vault.schema.MIGRATION_MEMORY`), and m010 converts a few files per query:
mechanisms that bound what migrating a large vault takes (bench/migration_memory_bench.py), with the same
rows as before."""

from __future__ import annotations

import shutil

import duckdb

from support import CONVERSATIONS, EXAMPLES, run_cli
from test_migration_m010 import to_previous_layout
from vault import migrations, schema
from vault.store import connect, open_vault


def _limit(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_migrations_run_under_the_cap_and_the_connection_gets_its_default_back(tmp_path, monkeypatch):
    seen = []
    real = schema._apply
    monkeypatch.setattr(schema, "_apply", lambda con, name: seen.append((name, _limit(con))) or real(con, name))
    default = _limit(connect())
    con = open_vault(tmp_path / "v.duckdb")
    after = _limit(con)
    con.execute(f"SET memory_limit = '{schema.MIGRATION_MEMORY}'")
    cap = _limit(con)
    con.close()
    assert [name for name, _ in seen] == [name for name, _ in migrations.MIGRATIONS]
    assert {limit for _, limit in seen} == {cap} and cap != default
    assert after == default


def test_a_migration_out_of_memory_under_the_cap_runs_again_without_it(tmp_path, monkeypatch):
    attempts = []

    def m999_needs_memory(con):
        con.execute("CREATE TABLE m999 (x INTEGER)")  # rolled back with the failed attempt, else a 2nd fails
        attempts.append(_limit(con))
        if len(attempts) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block (a test)")

    monkeypatch.setattr(schema, "MIGRATIONS", [*migrations.MIGRATIONS, ("m999_needs_memory", m999_needs_memory)])
    con = open_vault(tmp_path / "v.duckdb")
    try:
        assert schema.applied_migrations(con)[-1] == "m999_needs_memory"
        assert con.execute("SELECT count(*) FROM m999").fetchone()[0] == 0
        default = _limit(connect())
        assert attempts[0] != default and attempts[1] == default  # capped, then not
        assert _limit(con) == default
    finally:
        con.close()


def _converted(db) -> dict:
    con = connect(db, read_only=True)
    try:
        return {table: sorted(con.execute(sql).fetchall(), key=repr) for table, sql in {
            "record_chunks": "SELECT chunk_id, file_id, md5(data) FROM record_chunks",
            "records": "SELECT * FROM records",
            "tool_calls": "SELECT * FROM tool_calls",
        }.items()}
    finally:
        con.close()


def test_m010_gives_the_same_rows_whatever_the_files_per_step(tmp_path, monkeypatch):
    """M010_FILES_PER_STEP was 50: fewer files per query change the memory held, not one row."""
    old = tmp_path / "old.duckdb"
    assert run_cli("ingest", "--no-embed", str(EXAMPLES / "claude-code"), str(CONVERSATIONS), db=old)[0] == 0
    assert to_previous_layout(old) > 0
    con = connect(old, read_only=True)
    files = con.execute("SELECT count(DISTINCT file_id) FROM records").fetchone()[0]
    con.close()
    assert files > 12
    results = []
    for per_step in (50, 5, migrations.M010_FILES_PER_STEP):
        db = tmp_path / f"step{per_step}.duckdb"
        shutil.copy(old, db)
        monkeypatch.setattr(migrations, "M010_FILES_PER_STEP", per_step)
        open_vault(db).close()
        results.append(_converted(db))
    assert results[0]["records"] and results[0]["record_chunks"]
    assert results[1] == results[0] and results[2] == results[0]
