"""A changed `vault ingest` of a vault that holds data checkpoints once: the pending rows its `finish` derived stay
pending, named in the record of the settled vault (`vault.unchanged.record`, `derived_pending`), and the next ingest
deletes them instead of deriving them again, unless the vault was written since (then it derives them again)."""

from __future__ import annotations

import json
import os
import shutil
import uuid

from support import ROOT, run_cli, vault_process
from vault import unchanged
from vault.faults import EXIT_CODE as FAULT_EXIT
from vault.store import connect, open_vault
from vault_tables import vault_tables

FIXTURES = ROOT / "tests" / "fixtures" / "claude_code"


def _archive(tmp_path):
    dest = tmp_path / "archive"
    shutil.copytree(FIXTURES / "v21-layout", dest / "v21")
    shutil.copytree(FIXTURES / "kinds", dest / "kinds")
    return dest


def _sessions(archive):
    """Two main session files of the archive: (path, session id) each."""
    out = []
    for p in sorted(archive.rglob("*.jsonl")):
        if "subagents" in p.parts:
            continue
        recs = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
        sid = next((r["sessionId"] for r in recs if r.get("sessionId") and r.get("uuid")), None)
        if sid and sid not in {s for _, s in out}:
            out.append((p, sid))
    assert len(out) >= 2, out
    return out[:2]


def _append_prompt(path, text: str) -> None:
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    last = next(r for r in reversed(recs) if r.get("sessionId") and r.get("uuid"))
    rec = {k: last[k] for k in ("isSidechain", "userType", "cwd", "sessionId", "version", "gitBranch") if k in last}
    rec.update(parentUuid=last["uuid"], type="user", uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{path.name} {text}")),
               timestamp="2026-12-04T10:00:00.000Z", message={"role": "user", "content": text})
    with open(path, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    os.utime(path, (1_767_225_600 + len(text), 1_767_225_600 + len(text)))  # the same in every test's copy


def _ingest(db, *paths) -> dict:
    code, out, err = run_cli("ingest", "--no-embed", "--json", *map(str, paths), db=db)
    assert code == 0, err
    return json.loads(out)


def _pending(db) -> tuple[list[str], list[int]]:
    con = connect(db, read_only=True)
    try:
        return (sorted(r[0] for r in con.execute("SELECT session_id FROM pending_sessions").fetchall()),
                sorted(r[0] for r in con.execute("SELECT file_id FROM pending_files").fetchall()))
    finally:
        con.close()


def _file_id(db, path) -> int:
    con = connect(db, read_only=True)
    try:
        return con.execute("SELECT file_id FROM files WHERE path = ?", [str(path.resolve())]).fetchone()[0]
    finally:
        con.close()


def _messages(db, sid: str) -> int:
    con = connect(db, read_only=True)
    try:
        return con.execute("SELECT messages FROM sessions WHERE session_id = ?", [sid]).fetchone()[0]
    finally:
        con.close()


def test_a_changed_ingest_records_what_it_derived_and_the_next_one_deletes_it(tmp_path):
    archive = _archive(tmp_path)
    (a, sid_a), (b, sid_b) = _sessions(archive)
    db = tmp_path / "v.duckdb"
    _ingest(db, archive)  # a new vault
    _append_prompt(a, "one more thing")
    assert _ingest(db, a)["messages_added"] == 1
    # Recorded as settled although A's rows are still pending: the next unchanged ingest answers without the vault.
    assert unchanged.check(db, [archive], None, embed=False) is not None
    assert unchanged.derived_pending(db) == ([sid_a], [_file_id(db, a)]) == _pending(db)
    _append_prompt(b, "and another")
    assert _ingest(db, b)["messages_added"] == 1
    assert unchanged.derived_pending(db) == ([sid_b], [_file_id(db, b)]) == _pending(db)  # A's deleted
    _append_prompt(b, "the same session again")  # (the hook's case: B pending, and made pending again)
    assert _ingest(db, b)["messages_added"] == 1
    assert unchanged.derived_pending(db) == ([sid_b], [_file_id(db, b)]) == _pending(db)


def test_rows_left_pending_are_derived_again_when_the_vault_was_written_since(tmp_path):
    """What a WAL replay could lose (a derived value) is derived again when the record no longer names the vault
    file as it is: here another writer changed a derived value of the session left pending, and checkpointed."""
    archive = _archive(tmp_path)
    (a, sid_a), (b, sid_b) = _sessions(archive)
    db = tmp_path / "v.duckdb"
    _ingest(db, archive)
    _append_prompt(a, "one more thing")
    _ingest(db, a)
    right = _messages(db, sid_a)
    con = open_vault(db)
    con.execute("UPDATE sessions SET messages = 0 WHERE session_id = ?", [sid_a])
    con.execute("CHECKPOINT")
    con.close()
    assert unchanged.derived_pending(db) is None  # the file is not as recorded
    _append_prompt(b, "and another")
    _ingest(db, b)
    assert _messages(db, sid_a) == right  # derived again, its pending row was not trusted
    assert unchanged.derived_pending(db)[0] == sorted([sid_a, sid_b]) == _pending(db)[0]  # both derived by this run


def _state(db) -> dict:
    return vault_tables(db, raw_slices=False, seq="session", text_md5=True, derived=True)


def test_a_run_that_deletes_the_rows_killed_after_its_derivations_then_rerun(tmp_path):
    """The `vault` program, killed after `finish` committed (its delete of the earlier run's rows with it) and before
    its checkpoint: the rerun leaves what an uninterrupted run leaves."""
    states = {}
    for name, crash_at in (("clean", None), ("killed", "finish-committed"), ("killed-late", "derived-kept")):
        root = tmp_path / name
        root.mkdir()
        archive = _archive(root)
        (a, _), (b, _) = _sessions(archive)
        db = root / "v.duckdb"
        _ingest(db, archive)
        _append_prompt(a, "one more thing")
        proc = vault_process(db, "ingest", str(a), "--no-embed", "--json")  # recorded, the rows of A left pending
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert unchanged.derived_pending(db) is not None
        _append_prompt(b, "and another")
        proc = vault_process(db, "ingest", str(b), "--no-embed", "--json", crash_at=crash_at)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == (FAULT_EXIT if crash_at else 0), err.decode()[-2000:]
        if crash_at:
            _ingest(db, b)
        state = _state(db)
        # (paths differ by the root: compared relative to it)
        states[name] = json.loads(json.dumps(state, default=str).replace(str(root), "ROOT"))
    assert states["clean"]["pending"] == []
    for name in ("killed", "killed-late"):
        for table in states["clean"]:
            assert states[name][table] == states["clean"][table], (name, table)
