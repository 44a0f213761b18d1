"""A `summary` record titles the session of its leaf message; an append to a file whose summaries titled their sessions
already reads no raw record again (`claude_code._untitled_leaves`), and an untitled one is still titled."""

from __future__ import annotations

import json

import pytest

from vault import rawstore
from vault.ingest import ingest
from vault.store import open_vault

SID = "5e55a0aa-0000-4000-8000-000000000001"


def _rec(kind: str, uuid: str, parent: str | None, text: str, ts: str) -> str:
    message = ({"role": "user", "content": text} if kind == "user" else
               {"id": f"msg_{uuid[:8]}", "type": "message", "role": "assistant", "model": "claude-opus-4-6",
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn"})
    return json.dumps({"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": "/tmp/p",
                       "sessionId": SID, "version": "2.0.0", "type": kind, "uuid": uuid, "timestamp": ts,
                       "message": message})


def _turn(n: int, parent: str | None) -> tuple[list[str], str]:
    u, a = f"00000000-0000-4000-8000-{2 * n:012d}", f"00000000-0000-4000-8000-{2 * n + 1:012d}"
    ts = f"2026-01-01T00:{n:02d}:00.000Z"
    return [_rec("user", u, parent, f"question {n}", ts), _rec("assistant", a, u, f"answer {n}", ts)], a


@pytest.fixture
def session(tmp_path):
    lines, leaf = _turn(0, None)
    lines.append(json.dumps({"type": "summary", "summary": "Summary title", "leafUuid": leaf}))
    path = tmp_path / "archive" / f"{SID}.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [path])
    yield con, path, leaf
    con.close()


def _title(con) -> str | None:
    return con.execute("SELECT title FROM sessions WHERE session_id = ?", [SID]).fetchone()[0]


def _append_turn(path, parent: str) -> None:
    lines, _ = _turn(1, parent)
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")


def _counting_reads(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = rawstore.read_raw

    def counted(con, where="true", params=(), columns=("file_id", "line_no")):
        calls.append(where)
        return real(con, where, params, columns)

    monkeypatch.setattr(rawstore, "read_raw", counted)
    return calls


def test_titled_session_appended_reads_no_raw_record(session, monkeypatch):
    con, path, leaf = session
    assert _title(con) == "Summary title"
    reads = _counting_reads(monkeypatch)
    _append_turn(path, leaf)
    rep = ingest(con, [path])
    assert rep.messages_added == 2
    assert reads == []
    assert _title(con) == "Summary title"


def test_untitled_session_appended_is_titled_from_the_raw_summary(session, monkeypatch):
    con, path, leaf = session
    con.execute("UPDATE sessions SET title = NULL WHERE session_id = ?", [SID])
    reads = _counting_reads(monkeypatch)
    _append_turn(path, leaf)
    ingest(con, [path])
    assert len(reads) == 1
    assert _title(con) == "Summary title"
