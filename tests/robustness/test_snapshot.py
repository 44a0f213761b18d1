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


def test_the_tui_and_the_mcp_server_read_a_busy_vault_through_one_copy_holder(tmp_path, monkeypatch):
    """vault.snapshot.VaultOrCopy: the vault itself when free; while a writer holds it a copy, reused until it is
    older than max_age, dropped once the vault is free. A copy that cannot be taken is one VaultError naming the
    holder, for the MCP server too (it raised the OSError of the copy)."""
    import pytest

    from support import vault_holder
    from vault import snapshot
    from vault.errors import VaultError
    from vault.mcp_reader import SnapshotReader
    from vault.snapshot import VaultOrCopy
    from vault.store import open_vault

    db = tmp_path / "v.duckdb"
    con = open_vault(db)
    con.execute("INSERT INTO meta VALUES ('marker', 'copied')")
    con.close()
    source = VaultOrCopy(db, prefix="vault-test-", max_age=60.0)
    with vault_holder(db) as holder:
        con, copy = source.open()
        assert copy is not None and str(holder.pid) in source.reason
        assert con.execute("SELECT value FROM meta WHERE key = 'marker'").fetchone() == ("copied",)
        con.close()
        con, again = source.open()
        con.close()
        assert again is copy  # reused while young
        copy.taken -= 61
        con, newer = source.open()
        con.close()
        assert newer is not copy and not copy.path.parent.exists() and newer.path.exists()

        def no_room(*a, **k):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(snapshot.tempfile, "mkdtemp", no_room)
        reader = SnapshotReader(db)
        try:
            with pytest.raises(VaultError) as e, reader.read():
                pass
        finally:
            reader.close()
        assert str(holder.pid) in str(e.value) and "\n" not in str(e.value)
        monkeypatch.undo()
    con, copy = source.open()
    con.close()
    assert copy is None and source.copy is None and not newer.path.parent.exists()
