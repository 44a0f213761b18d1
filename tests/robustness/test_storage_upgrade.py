"""The vault file's storage format (`vault.store.STORAGE_VERSION`): a new vault is written in it; a vault in DuckDB's
older default format (v1.0.0) is written again in it at its first writing open, once, with every table as it was;
a read-only open leaves it as it is; a process killed after the copy and before it replaces the file leaves the old
file, which the next run upgrades (the crash point `compact-copied`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from support import copy_mixed_archive, run_cli, vault_process, write_in_storage
from vault.faults import EXIT_CODE as FAULT_EXIT
from vault_tables import vault_tables


def storage_version(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                           "WHERE database_name = current_database()").fetchone()[0]
    finally:
        con.close()


def _ingest(db: Path, archive: Path) -> dict:
    code, out, err = run_cli("ingest", str(archive), "--json", "--no-embed", db=db)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("upgrade")
    archive = copy_mixed_archive(root / "archive")
    db = root / "new.duckdb"
    _ingest(db, archive)
    old = root / "old.duckdb"
    write_in_storage(db, old, "v1.0.0")
    con = duckdb.connect(str(db), read_only=True)
    try:
        words = [r[0] for r in con.execute("SELECT term FROM fts_main_fts_docs.dict WHERE df BETWEEN 1 AND 6 "
                                           "ORDER BY df DESC, term LIMIT 8").fetchall()]
    finally:
        con.close()
    state = vault_tables(old, raw_slices=False, derived=True, words=words)
    assert len(words) == 8 and all(state["hits"].values()) and state["pending"] == []
    return {"archive": archive, "new": db, "old": old, "words": words, "state": state}


def _state(db: Path, made: dict) -> dict:
    return vault_tables(db, raw_slices=False, derived=True, words=made["words"])


def test_a_new_vault_is_written_in_the_current_format(made):
    assert storage_version(made["new"]) == "v1.5.0+"
    assert storage_version(made["old"]) == "v1.0.0+"


def test_a_writing_open_upgrades_an_older_file_once_and_keeps_everything(made, tmp_path):
    from vault import unchanged
    from vault.store import open_vault

    db = tmp_path / "v.duckdb"
    shutil.copy2(made["old"], db)
    open_vault(db, read_only=True).close()
    assert storage_version(db) == "v1.0.0+"  # a reader does not write
    rep = _ingest(db, made["archive"])
    assert rep["files"] == 0 and rep["files_unchanged"] > 20
    assert storage_version(db) == "v1.5.0+"
    assert _state(db, made) == made["state"]
    # (the unchanged-ingest record, vault.unchanged, is meant to be there)
    left = [p.name for p in tmp_path.glob("v.duckdb.*") if not p.name.endswith(unchanged.SUFFIX)]
    assert not left, "no copy or WAL left beside it"


def test_killed_after_the_copy_the_old_file_stays_and_the_next_run_upgrades(made, tmp_path):
    db = tmp_path / "v.duckdb"
    shutil.copy2(made["old"], db)
    proc = vault_process(db, "ingest", str(made["archive"]), "--json", "--no-embed", crash_at="compact-copied")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == FAULT_EXIT, err.decode()[-2000:]
    assert (tmp_path / "v.duckdb.compact").exists()  # the copy was made: the crash came before the rename
    assert storage_version(db) == "v1.0.0+"
    assert _state(db, made) == made["state"]  # the old file, whole
    _ingest(db, made["archive"])
    assert storage_version(db) == "v1.5.0+"
    assert not (tmp_path / "v.duckdb.compact").exists()
    assert _state(db, made) == made["state"]
