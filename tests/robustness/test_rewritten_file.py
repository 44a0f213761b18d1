"""A file read again whole (cut short, a record removed, a text edited) leaves the vault as a clean ingest of
its new text would: no tool call it dropped, no label of a text it changed (vault/rewritten.py).

Real lines: a Claude Code session with tool calls (`support.claude_code_file`: the shared corpus' file, its
bundled stand-in on a bare clone) and a licensed neutral session (`tests/corpus`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support import claude_code_file, vault_process
from vault.faults import EXIT_CODE as FAULT_EXIT
from vault.ingest import ingest
from vault.store import open_vault

TOOL_SESSION = claude_code_file("spotter/tool_heavy.jsonl")
CALL_COLUMNS = "tool_use_id, session_id, call_msg_id, name, input, result_msg_id, result_text, is_error, " \
               "subagent_session_id"


def _records(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _blocks(rec: dict, kind: str) -> list[dict]:
    content = (rec.get("message") or {}).get("content")
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind] if isinstance(content, list) else []


def _last_call(recs: list[dict]) -> tuple[int, int, str]:
    """(line of the last tool call, line of its result, its id)."""
    call = max(i for i, r in enumerate(recs) if _blocks(r, "tool_use"))
    tid = _blocks(recs[call], "tool_use")[0]["id"]
    result = next(i for i, r in enumerate(recs) if any(b.get("tool_use_id") == tid for b in _blocks(r, "tool_result")))
    return call, result, tid


def _rewrite(path: Path, change: str) -> str:
    """Rewrite the session as `change` says; returns the id of the tool call it concerns."""
    recs = _records(path)
    call, result, tid = _last_call(recs)
    if change == "cut_before_last_call":  # the file cut short (restored from an older copy)
        recs = recs[:call]
    elif change == "result_removed":  # one record taken out by hand (a secret in a tool's output)
        recs = recs[:result] + recs[result + 1:]
    elif change == "result_edited":  # the output redacted in place
        for b in _blocks(recs[result], "tool_result"):
            b["content"] = "[redacted]"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000))
    return tid


def _calls(db: Path) -> list[tuple]:
    con = open_vault(db)
    try:
        return con.execute(f"SELECT {CALL_COLUMNS} FROM tool_calls ORDER BY tool_use_id").fetchall()
    finally:
        con.close()


def _ingest(db: Path, folder: Path) -> None:
    con = open_vault(db)
    try:
        rep = ingest(con, [folder])
        assert rep.errors == [], rep.errors
    finally:
        con.close()


def _clean(tmp_path: Path, folder: Path) -> list[tuple]:
    """The tool calls of a vault that never saw the old text."""
    db = tmp_path / "clean.duckdb"
    _ingest(db, folder)
    return _calls(db)


@pytest.fixture
def session(tmp_path) -> tuple[Path, Path]:
    """(vault, session file): the Claude Code session ingested as it was."""
    folder = tmp_path / "src"
    folder.mkdir()
    path = folder / TOOL_SESSION.name
    path.write_bytes(TOOL_SESSION.read_bytes())
    db = tmp_path / "v.duckdb"
    _ingest(db, folder)
    return db, path


@pytest.mark.parametrize("change", ["cut_before_last_call", "result_removed", "result_edited"])
def test_rewritten_file_leaves_the_tool_calls_of_a_clean_ingest(session, tmp_path, change):
    db, path = session
    before = {r[0]: r for r in _calls(db)}
    tid = _rewrite(path, change)
    _ingest(db, path.parent)
    got = {r[0]: r for r in _calls(db)}
    assert got == {r[0]: r for r in _clean(tmp_path, path.parent)}
    if change == "cut_before_last_call":
        assert tid in before and tid not in got and len(got) == len(before) - 1
    elif change == "result_removed":  # the call stays, without the output it no longer has
        assert before[tid][5] is not None and got[tid][2:5] == before[tid][2:5] and got[tid][5:8] == (None,) * 3
    else:
        assert got[tid][6] == "[redacted]" or got[tid][6] is None  # (kept only where it differs from the message)
    assert {k: v for k, v in got.items() if k != tid} == {k: v for k, v in before.items() if k != tid}


@pytest.mark.parametrize("phase", ["replaced-rows-deleted", "in-file-commit"])
def test_a_crash_while_replacing_then_a_rerun_leaves_the_tool_calls_of_a_clean_ingest(session, tmp_path, phase):
    db, path = session
    _rewrite(path, "cut_before_last_call")
    proc = vault_process(db, "ingest", str(path.parent), "--no-embed", crash_at=phase)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == FAULT_EXIT, err.decode()[-2000:]
    _ingest(db, path.parent)
    assert _calls(db) == _clean(tmp_path, path.parent)
