"""vault.snapshot: the one copy the TUI and the MCP server read while another process writes the vault."""

from __future__ import annotations

import stat


def test_a_snapshot_is_a_private_readable_copy_and_drop_removes_it(tmp_path):
    from vault.snapshot import Snapshot
    from vault.store import open_vault

    db = tmp_path / "v.duckdb"
    con = open_vault(db)
    con.execute("INSERT INTO meta VALUES ('marker', 'copied')")
    con.execute("CHECKPOINT")
    snap = Snapshot(db, prefix="vault-test-")
    con.execute("UPDATE meta SET value = 'after' WHERE key = 'marker'")  # the vault moves on, the copy does not
    con.close()
    assert snap.path.parent != tmp_path and snap.path.name == db.name
    assert stat.S_IMODE(snap.path.stat().st_mode) == 0o600
    copy = snap.connect()
    try:
        assert copy.execute("SELECT value FROM meta WHERE key = 'marker'").fetchone() == ("copied",)
    finally:
        copy.close()
    snap.drop()
    assert not snap.path.parent.exists()
