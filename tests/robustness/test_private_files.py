"""Every file a vault writer leaves beside the vault holds conversation text or says who waits: private (0600,
folders 0700) like the vault file itself, whatever the umask. The WAL was 0644 while an ingest ran (only `settle`
made a WAL that outlives the process private), and so was DuckDB's spill folder `<vault>.tmp` and its files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import vault_holder

REPO = Path(__file__).resolve().parents[2]


def _run(code: str, tmp_path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = "import os\nos.umask(0o022)\n" + textwrap.dedent(code)
    p = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_the_wal_and_the_spill_folder_are_private_while_the_writer_runs(tmp_path):
    db = tmp_path / "v.duckdb"
    out = _run(f"""
        import os, stat
        from vault.store import open_vault
        con = open_vault({str(db)!r})
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        con.execute("CREATE TABLE t AS SELECT range AS i, repeat('x', 50) || range AS s FROM range(300000)")
        wal = {str(db)!r} + ".wal"
        print("wal", oct(stat.S_IMODE(os.stat(wal).st_mode)))
        con.execute("SET threads = 1")
        con.execute("SET memory_limit = '40MB'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("CREATE TABLE u AS SELECT s FROM (SELECT md5(range::varchar) || repeat('x', 40) AS s "
                    "FROM range(1500000)) ORDER BY s")  # spills into <vault>.tmp
        tmp = {str(db)!r} + ".tmp"
        print("tmp", oct(stat.S_IMODE(os.stat(tmp).st_mode)))
        for f in os.listdir(tmp):
            print("spill", oct(stat.S_IMODE(os.stat(os.path.join(tmp, f)).st_mode)))
        con.close()
        """, tmp_path)
    assert "wal 0o600" in out and "tmp " in out, out
    for line in out.splitlines():
        kind, mode = line.split()
        assert mode == ("0o700" if kind == "tmp" else "0o600"), out


def test_a_waiting_writer_announces_itself_in_a_private_file(tmp_path):
    db = tmp_path / "v.duckdb"
    from vault.store import open_vault, want_write_path

    open_vault(db).close()
    # The announcement is made by open_vault_waiting while another process holds the lock: held until the waiting
    # writer has given up (a holder that let go after a fixed 5 s could be gone before that writer, started after
    # it, had even imported DuckDB on a loaded machine: then nothing waited and nothing was announced).
    with vault_holder(db):
        out = _run(f"""
            from vault.store import VaultLockedError
            from vault.store import open_vault_waiting
            try:
                open_vault_waiting({str(db)!r}, wait=0.3)
            except VaultLockedError:
                print("waited")
            """, tmp_path)
    assert out == "waited\n"
    assert _mode(want_write_path(db)) == 0o600


def test_a_writer_that_gives_up_at_its_first_try_has_announced_itself(tmp_path, monkeypatch):
    # On a loaded machine the first attempt to open a locked vault can outlast the whole wait: the writer must still
    # have announced itself (the bare-clone run of 2026-12-05 failed the test above so), not give up unannounced.
    import time

    import vault.store as store

    def locked_and_slow(*a, **k):
        time.sleep(0.05)
        raise store.VaultLockedError("held by another process")

    monkeypatch.setattr(store, "open_vault", locked_and_slow)
    db = tmp_path / "v.duckdb"
    with pytest.raises(store.VaultLockedError):
        store.open_vault_waiting(db, wait=0.01)
    assert _mode(store.want_write_path(db)) == 0o600
