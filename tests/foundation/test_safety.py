"""A killed ingest leaves a consistent vault; locks, newer vaults and upgrades give clear answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from support import EXAMPLES, ROOT, needs_shared, run_cli, vault_holder, vault_process

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "bench"))
import cc_raw_counts  # noqa: E402
import make_archive  # noqa: E402



def _vault(db: Path, *args: str) -> subprocess.Popen:
    # Small commit groups (about one file each), so a kill lands between commits, not before the first.
    return vault_process(db, *args, env={"VAULT_INGEST_BATCH_BYTES": "1000000"})


def _check_consistent(db: Path) -> None:
    """Every file's committed offset, line and record counts match the rows it owns."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            """
            SELECT f.path, f.byte_offset, f.lines, f.records, count(r.line_no), max(r.line_no),
                   max(r.byte_offset)
            FROM files f LEFT JOIN records r USING (file_id) GROUP BY ALL
            """).fetchall()
        for path, offset, lines, records, n, last_line, last_start in rows:
            assert n == records, path
            assert (last_line or 0) <= lines, path
            assert (last_start or 0) < max(offset, 1), path
            # Files are complete on disk here, so a committed file is committed whole.
            assert offset == Path(path).stat().st_size, path
        beyond = con.execute(
            "SELECT count(*) FROM messages m JOIN files f USING (file_id) WHERE m.line_no > f.lines").fetchone()[0]
        orphans = con.execute(
            "SELECT count(*) FROM messages WHERE file_id NOT IN (SELECT file_id FROM files)").fetchone()[0]
        orphan_records = con.execute(
            "SELECT count(*) FROM records WHERE file_id NOT IN (SELECT file_id FROM files)").fetchone()[0]
        assert (beyond, orphans, orphan_records) == (0, 0, 0)
    finally:
        con.close()


@needs_shared  # the archive is built from ../shared/corpora/claude-code
def test_kill_midway_then_rerun_completes(tmp_path):
    archive = tmp_path / "archive"
    make_archive.build(archive, 60, quiet=True)  # 4 copies of the corpus, about 70 MB
    raw = cc_raw_counts.count(archive)
    db = tmp_path / "v.duckdb"
    proc = _vault(db, "ingest", str(archive), "--json", "--no-embed")
    # Wait until some files are committed (the WAL grows), then kill without warning.
    deadline = time.time() + 60
    wal = Path(str(db) + ".wal")
    while time.time() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 5_000_000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest finished before it could be killed: make the archive bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    _check_consistent(db)  # opens after replaying whatever the WAL holds
    con = duckdb.connect(str(db), read_only=True)
    done = con.execute("SELECT count(*) FROM files").fetchone()[0]
    con.close()
    total = len(list(archive.rglob("*.jsonl")))
    assert 0 < done < total, (done, total)

    code, out, err = run_cli("ingest", str(archive), "--json", "--no-embed", db=db)
    assert code == 0, err
    rep = json.loads(out)
    assert rep["files"] + rep["files_unchanged"] == total and rep["skipped_lines"] == 0
    _check_consistent(db)
    st = json.loads(run_cli("stats", "--json", db=db)[1])
    assert (st["sessions"], st["messages"], st["human_messages"]) == (
        len(raw.sessions), len(raw.messages), len(raw.human))


def test_second_process_on_a_locked_vault_gets_a_clear_message(tmp_path):
    db = tmp_path / "v.duckdb"
    with vault_holder(db) as holder:
        for args in (("stats", "--json"), ("ingest", str(tmp_path), "--json", "--no-embed")):
            p = _vault(db, *args)
            out, err = p.communicate(timeout=60)
            err = err.decode()
            assert p.returncode == 2, err
            assert "Traceback" not in err and out == b""
            assert f"in use by process {holder.pid}" in err and "python" in err


def test_vault_written_by_a_newer_version_is_refused_clearly(tmp_path):
    db = tmp_path / "v.duckdb"
    from vault.store import open_vault

    con = open_vault(db)
    con.execute("INSERT INTO migrations VALUES (99, 'm099_from_the_future', current_timestamp, '9.0')")
    con.close()
    p = _vault(db, "stats", "--json")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 2
    assert b"newer version" in err and b"m099_from_the_future" in err and b"Traceback" not in err


def test_upgrade_backs_up_first_and_applies_each_migration_once(tmp_path, monkeypatch):
    from vault import migrations, schema, store

    db = tmp_path / "v.duckdb"
    monkeypatch.setattr(schema, "MIGRATIONS", migrations.MIGRATIONS[:1])  # an older release
    con = store.open_vault(db)
    con.execute("INSERT INTO meta VALUES ('marker', 'before upgrade')")
    con.close()
    assert list(tmp_path.glob("v.duckdb.bak-*")) == []
    monkeypatch.setattr(schema, "MIGRATIONS", migrations.MIGRATIONS)
    con = store.open_vault(db)
    applied = [r[0] for r in con.execute("SELECT name FROM migrations ORDER BY seq").fetchall()]
    con.close()
    assert applied == [name for name, _ in migrations.MIGRATIONS]
    backups = list(tmp_path.glob("v.duckdb.bak-*"))
    assert len(backups) == 1 and backups[0].stat().st_mode & 0o777 == 0o600
    old = duckdb.connect(str(backups[0]), read_only=True)
    assert old.execute("SELECT name FROM migrations").fetchall() == [(migrations.MIGRATIONS[0][0],)]
    assert old.execute("SELECT value FROM meta WHERE key = 'marker'").fetchone() == ("before upgrade",)
    old.close()
    store.open_vault(db).close()  # reopening applies nothing and backs up nothing
    assert len(list(tmp_path.glob("v.duckdb.bak-*"))) == 1


@pytest.mark.parametrize("how", ["library", "cli"])
def test_vault_file_mode_0600(tmp_path, how):
    db = tmp_path / "v.duckdb"
    if how == "library":
        from vault.store import open_vault

        open_vault(db).close()
    else:  # only `ingest` creates a vault from the CLI
        code, _, err = run_cli("ingest", str(EXAMPLES / "claude-code"), "--json", "--no-embed", db=db)
        assert code == 0, err
    assert db.stat().st_mode & 0o777 == 0o600
