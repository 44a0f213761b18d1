"""The MCP tools take what they need from the one settings object they are given (`vault mcp` passes its own), the
role rules of the `stats` tool's correction report included; without one, the defaults (`Settings()`). Neither they
nor the report read the configuration on their own: a config read on the way fails the test."""

from __future__ import annotations

import pytest
from mcp_support import mined_vault


def _unroled_vault(tmp_path):
    """A mined vault whose `roles` table is empty: the report gives its sessions roles from the rules it is passed."""
    from vault.store import open_vault

    db = mined_vault(tmp_path)
    con = open_vault(db)
    try:
        con.execute("DELETE FROM roles")
    finally:
        con.close()
    return db


def _no_config_reads(monkeypatch) -> None:
    import vault.settings

    def read(*_a, **_k):
        raise AssertionError("the library read the configuration itself; the caller's settings pass the rules")

    monkeypatch.setattr(vault.settings, "load", read)
    monkeypatch.setattr(vault.settings, "_read_toml", read)


def test_the_stats_tool_takes_the_role_rules_from_its_settings_and_reads_no_config(tmp_path, monkeypatch):
    from miner.analytics import corrections_report
    from vault.mcp_tools import VaultTools
    from vault.settings import Settings
    from vault.store import open_vault

    db = _unroled_vault(tmp_path)
    _no_config_reads(monkeypatch)
    payments = Settings(roles=[{"name": "payments", "project": "*billing*"}])
    roles = {}
    for name, settings in (("none", None), ("payments", payments)):
        tools = VaultTools(db, settings)
        try:
            roles[name] = [r["role"] for r in tools.stats()["corrections"]["roles"]]
        finally:
            tools.close()
    assert roles["payments"] == ["payments"]
    assert roles["none"] and roles["none"] != ["payments"]  # no rules: the session's project
    con = open_vault(db, read_only=True)
    try:
        with pytest.raises(TypeError):
            corrections_report(con)  # the library holds no default: the caller passes its settings' rules
    finally:
        con.close()
