"""A read-only opener never creates anything: a missing vault (or an empty file) is one line naming the path and
`vault ingest`, and the folder is left exactly as it was (no file, no WAL, no parent folder made). Before, a
read-only open of a missing path created an empty vault first (a read-only bench given a typo made one)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import ROOT
from vault.errors import VaultError


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _openers():
    from vault import connection, store

    return {
        "open_vault": lambda p: store.open_vault(p, read_only=True),
        "open_vault_waiting": lambda p: store.open_vault_waiting(p, read_only=True, wait=0),
        "open_file": lambda p: connection.open_file(p, read_only=True),
        "needed_migrations": store.needed_migrations,
    }


@pytest.mark.parametrize("opener", sorted(_openers()))
@pytest.mark.parametrize("where", ["v.duckdb", "missing-folder/v.duckdb"])
def test_a_read_only_open_of_a_missing_vault_creates_nothing(tmp_path, opener, where):
    from vault.store import VaultMissingError

    path = tmp_path / where
    with pytest.raises(VaultMissingError) as e:
        _openers()[opener](path)
    assert str(e.value) == f"no vault at {path}: `vault ingest` creates one"
    assert _files(tmp_path) == []


def test_a_read_only_open_of_an_empty_file_leaves_it_empty(tmp_path):
    from vault.store import VaultMissingError, open_vault

    path = tmp_path / "v.duckdb"
    path.touch()  # a vault killed before DuckDB wrote its header, or `touch`: a writer makes it a vault
    with pytest.raises(VaultMissingError, match="an empty file"):
        open_vault(path, read_only=True)
    assert _files(tmp_path) == ["v.duckdb"] and path.stat().st_size == 0


def test_a_read_only_bench_ends_in_one_line_and_creates_nothing(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from _common import open_bench_vault
    finally:
        sys.path.remove(str(ROOT / "bench"))
    path = tmp_path / "typo.duckdb"
    with pytest.raises(SystemExit) as e:
        open_bench_vault(path)
    assert str(e.value) == f"{path}: no vault at {path}: `vault ingest` creates one"
    assert _files(tmp_path) == []


def test_the_tui_read_only_on_a_missing_vault_is_an_error_not_a_new_vault(tmp_path):
    from tui.access import VaultAccess

    with pytest.raises(VaultError, match="no vault at"):
        VaultAccess(tmp_path / "v.duckdb", read_only=True)
    assert _files(tmp_path) == []
