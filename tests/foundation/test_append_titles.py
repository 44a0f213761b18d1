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


def test_first_ingest_titles_from_the_parse_not_the_raw_store(tmp_path, monkeypatch):
    """A file read whole hands its `summary` records to `finalize` (`Touched.kept`): no frame is decoded for them."""
    lines, leaf = _turn(0, None)
    lines.append(json.dumps({"type": "summary", "summary": "Summary title", "leafUuid": leaf}))
    path = tmp_path / f"{SID}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    reads = _counting_reads(monkeypatch)
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [path])
    assert reads == []
    assert _title(con) == "Summary title"
    con.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_derivations_from_the_parse_equal_derivations_from_the_vault(tmp_path, monkeypatch, workers):
    """Session titles and abandoned-branch marks of the shared Claude Code corpus and the mixed archive (summaries
    naming leaves in other files, resumed copies, rewinds, subagents) are the same whether `finalize` takes them from
    the parse (`Touched.kept`) or, with nothing kept, reads the records from the vault."""
    from support import CORPORA, copy_mixed_archive, require_shared

    from vault import ingest as ingest_mod, ingest_pool
    from vault.ingest import Ingester
    from vault.settings import IngestSettings
    from vault.sources import forks

    require_shared()
    archive = copy_mixed_archive(tmp_path / "archive")
    monkeypatch.setattr(ingest_pool, "POOL_MIN_BYTES", 0)
    fork_reads: list[int] = []
    real_records = forks._records_per_file

    def records(con, source, skip=()):
        for recs in real_records(con, source, skip):
            fork_reads.append(recs[0][0])
            yield recs

    monkeypatch.setattr(forks, "_records_per_file", records)

    def derived(db, kept_bytes: int) -> tuple[list, list]:
        monkeypatch.setattr(ingest_mod, "KEPT_RUN_BYTES", kept_bytes)
        con = open_vault(db)
        Ingester(con, settings=IngestSettings(workers=workers, batch_bytes=64 << 10)).run(
            [CORPORA / "claude-code", archive])
        titles = con.execute("SELECT session_id, title FROM sessions ORDER BY 1").fetchall()
        marks = con.execute("SELECT msg_id, on_main_branch FROM messages ORDER BY 1").fetchall()
        con.close()
        return titles, marks

    reads = _counting_reads(monkeypatch)
    from_parse = derived(tmp_path / "kept.duckdb", ingest_mod.KEPT_RUN_BYTES)
    parse_reads = (len([w for w in reads if "summary" in w]), len(fork_reads))
    reads.clear()
    fork_reads.clear()
    from_vault = derived(tmp_path / "vault.duckdb", 0)
    files = len(set(fork_reads))
    assert any("summary" in w for w in reads) and files > 20
    assert parse_reads[0] <= 1 and parse_reads[1] < files / 2  # only files whose messages were stored elsewhere
    assert sum(t is not None for _, t in from_vault[0]) >= 3
    assert sum(not m for _, m in from_vault[1]) >= 1  # a fixture's rewind
    assert from_parse == from_vault
