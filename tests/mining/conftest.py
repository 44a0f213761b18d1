"""A vault of the bundled examples, ingested once per test module and copied per test."""

from __future__ import annotations

import shutil

import pytest
from support import EXAMPLES


@pytest.fixture(scope="module")
def examples_vault(tmp_path_factory):
    from vault.ingest import ingest
    from vault.store import open_vault

    path = tmp_path_factory.mktemp("examples") / "vault.duckdb"
    con = open_vault(path)
    ingest(con, [EXAMPLES / "claude-code"])
    con.close()
    return path


@pytest.fixture
def ex_db(examples_vault, tmp_path):
    dest = tmp_path / "ex.duckdb"
    shutil.copy(examples_vault, dest)
    return dest
