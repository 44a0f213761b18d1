"""The TUI tests share one fixed vault (examples/ + fixture labels, pairs, personas), copied per test."""

from __future__ import annotations

import shutil

import pytest

from tui_data import build_vault


@pytest.fixture(scope="session")
def tui_vault_master(tmp_path_factory):
    return build_vault(tmp_path_factory.mktemp("tui-master") / "vault.duckdb")


@pytest.fixture
def tui_vault(tui_vault_master, tmp_path):
    """A private copy, so that tests may write."""
    dest = tmp_path / "vault.duckdb"
    shutil.copy2(tui_vault_master, dest)
    return dest
