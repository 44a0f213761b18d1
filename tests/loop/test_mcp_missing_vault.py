"""The MCP tools on a vault that does not exist, or an empty file: the read-only open's one line
(`VaultMissingError`, "no vault at PATH: `vault ingest` creates one"), the same as every reader's, and nothing made."""

from __future__ import annotations

import pytest


def test_a_missing_or_empty_vault_is_the_read_only_opens_one_line(tmp_path):
    from vault.connection import VaultMissingError, missing_vault
    from vault.mcp_tools import VaultTools

    for name, empty in (("v.duckdb", False), ("empty.duckdb", True)):
        path = tmp_path / name
        if empty:
            path.touch()
        tools = VaultTools(path)
        try:
            with pytest.raises(VaultMissingError) as e:
                tools.stats()
        finally:
            tools.close()
        assert str(e.value) == str(missing_vault(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.duckdb"]
    assert (tmp_path / "empty.duckdb").stat().st_size == 0
