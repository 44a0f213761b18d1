"""`vault ingest` when nothing changed, answered from the state the last ingest recorded (vault.unchanged): the same
report as the ingest's, and the ingest itself whenever the archive, the vault or the code may differ."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

from support import ROOT, run_cli
from vault import unchanged
from vault.cli import ingest_run
from vault.store import open_vault

FIXTURES = ROOT / "tests" / "fixtures" / "claude_code"


@pytest.fixture
def archive_dir(tmp_path):
    dest = tmp_path / "archive"
    shutil.copytree(FIXTURES / "v21-layout", dest / "v21")
    shutil.copytree(FIXTURES / "kinds", dest / "kinds")
    return dest


def _ingest(db, *args: str) -> tuple[int, str]:
    code, out, err = run_cli("ingest", *args, db=db)
    assert code == 0, err
    return code, out


def _no_ingest(*_a, **_k):
    raise AssertionError("the ingest ran: the recorded state was not used")


def test_the_recorded_state_answers_as_the_ingest_does(archive_dir, tmp_path, monkeypatch):
    db = tmp_path / "v.duckdb"
    first = json.loads(_ingest(db, "--no-embed", "--json", str(archive_dir))[1])
    assert first["files"] > 0 and not unchanged.state_path(db).exists()  # a new vault: compacted, not recorded
    slow_json = _ingest(db, "--no-embed", "--json", str(archive_dir))[1]  # unchanged, the ingest: it records
    slow_text = _ingest(db, "--no-embed", str(archive_dir))[1]
    assert json.loads(slow_json)["files"] == 0 and json.loads(slow_json)["files_unchanged"] == first["files"]
    assert stat.S_IMODE(unchanged.state_path(db).stat().st_mode) == 0o600  # it names the files: as private
    monkeypatch.setattr(ingest_run, "_ingest", _no_ingest)
    assert _ingest(db, "--no-embed", "--json", str(archive_dir))[1] == slow_json
    assert _ingest(db, "--no-embed", str(archive_dir))[1] == slow_text
    one = next(archive_dir.rglob("*.jsonl"))  # a file named directly
    assert json.loads(_ingest(db, "--no-embed", "--json", str(one))[1])["files_unchanged"] == 1
    # embeddings wanted, but the recording run computed none: the ingest runs
    assert unchanged.check(db, [archive_dir], None, embed=True) is None
    assert unchanged.check(db, [archive_dir], None, embed=False) is not None


def _recorded(db, archive_dir):
    _ingest(db, "--no-embed", "--json", str(archive_dir))
    _ingest(db, "--no-embed", "--json", str(archive_dir))
    assert unchanged.check(db, [archive_dir], None, embed=False) is not None


def test_a_changed_or_new_file_takes_the_ingest(archive_dir, tmp_path):
    db = tmp_path / "v.duckdb"
    _recorded(db, archive_dir)
    session = next(archive_dir.rglob("*.jsonl"))
    line = session.read_bytes().splitlines(keepends=True)[-1]
    with open(session, "ab") as fh:
        fh.write(line.replace(b'"uuid":"', b'"uuid":"x'))
    assert unchanged.check(db, [archive_dir], None, embed=False) is None
    assert json.loads(_ingest(db, "--no-embed", "--json", str(archive_dir))[1])["files"] == 1
    _ingest(db, "--no-embed", "--json", str(archive_dir))  # recorded again
    assert unchanged.check(db, [archive_dir], None, embed=False) is not None
    (archive_dir / "kinds" / "new.jsonl").write_bytes(line)
    assert unchanged.check(db, [archive_dir], None, embed=False) is None
    (archive_dir / "kinds" / "new.jsonl").unlink()
    (archive_dir / "kinds" / "dangling.jsonl").symlink_to(tmp_path / "nowhere")  # the ingest reports it
    assert unchanged.check(db, [archive_dir], None, embed=False) is None


def test_a_vault_written_since_or_other_code_takes_the_ingest(archive_dir, tmp_path, monkeypatch):
    db = tmp_path / "v.duckdb"
    _recorded(db, archive_dir)
    con = open_vault(db)  # another writer: its open changes the file's ctime, its writes the mtime
    con.execute("DELETE FROM files WHERE file_id = (SELECT min(file_id) FROM files)")
    con.close()
    assert unchanged.check(db, [archive_dir], None, embed=False) is None
    assert json.loads(_ingest(db, "--no-embed", "--json", str(archive_dir))[1])["files"] == 1  # read again
    _ingest(db, "--no-embed", "--json", str(archive_dir))
    assert unchanged.check(db, [archive_dir], None, embed=False) is not None
    wal = db.with_name(db.name + ".wal")
    wal.write_bytes(b"")  # writes not in the file yet
    assert unchanged.check(db, [archive_dir], None, embed=False) is None
    wal.unlink()
    real = unchanged._code()
    monkeypatch.setattr(unchanged, "_code", lambda: [*real, ["/edited.py", 1, 1]])
    assert unchanged.check(db, [archive_dir], None, embed=False) is None
    monkeypatch.undo()
    state = unchanged.state_path(db)
    for bad in (b"", b"{", b"[]", json.dumps({"format": unchanged.FORMAT}).encode()):
        state.write_bytes(bad)
        assert unchanged.check(db, [archive_dir], None, embed=False) is None


def test_a_vault_copied_over_takes_the_ingest(archive_dir, tmp_path):
    db = tmp_path / "v.duckdb"
    _recorded(db, archive_dir)
    copy = tmp_path / "copy.duckdb"
    shutil.copy2(db, copy)
    os.replace(copy, db)  # same bytes and mtime, another inode and ctime
    assert unchanged.check(db, [archive_dir], None, embed=False) is None
