"""Incremental ingest on real lines: partial last line, append, rewrite, truncation, deletion, no-op re-run."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from support import claude_code_file
from vault.ingest import ingest
from vault.queries import stats
from vault.sources.claude_code import ClaudeCodeParser
from vault.store import open_vault

SOURCE = claude_code_file("spotter/short.jsonl")
LINES = SOURCE.read_bytes().splitlines(keepends=True)


def _ids(lines) -> set[str]:
    out = set()
    for ln in lines:
        rec = json.loads(ln)
        if rec.get("type") in ("user", "assistant", "system") and rec.get("uuid"):
            out.add(rec["uuid"])
    return out


@pytest.fixture
def setup(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    con = open_vault(tmp_path / "v.duckdb")
    yield src, con
    con.close()


def _messages(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT msg_id FROM messages").fetchall()}


def _file_row(con):
    return con.execute("SELECT byte_offset, lines, records FROM files").fetchone()


def test_partial_last_line_left_for_next_run_then_completed(setup):
    src, con = setup
    f = src / "s.jsonl"
    cut = len(LINES[6]) // 2
    f.write_bytes(b"".join(LINES[:6]) + LINES[6][:cut])  # a live session mid-write
    rep = ingest(con, [src])
    assert rep.skipped_lines == 0 and rep.errors == []
    assert _messages(con) == _ids(LINES[:6])
    assert _file_row(con)[0] == len(b"".join(LINES[:6]))
    # Said, not silently left: the run and `vault stats` name the unfinished line and what it holds back.
    assert rep.unfinished == [{"file": str(f), "line": 7, "bytes": cut}]
    st = stats(con)
    assert (st["unfinished_files"], st["unfinished_bytes"]) == (1, cut)
    assert ingest(con, [src]).unfinished == []  # unchanged since: not read again, so not reported again
    with open(f, "ab") as fh:
        fh.write(LINES[6][cut:] + b"".join(LINES[7:]))
    rep = ingest(con, [src])
    assert rep.skipped_lines == 0 and rep.unfinished == []
    assert (stats(con)["unfinished_files"], stats(con)["unfinished_bytes"]) == (0, 0)
    assert _messages(con) == _ids(LINES)
    assert _file_row(con) == (f.stat().st_size, len(LINES), len(LINES))


def test_append_is_read_from_the_offset(setup, monkeypatch):
    src, con = setup
    f = src / "s.jsonl"
    f.write_bytes(b"".join(LINES[:8]))
    ingest(con, [src])
    with open(f, "ab") as fh:
        fh.write(b"".join(LINES[8:]))
    starts = []
    parse = ClaudeCodeParser.parse

    def spy(self, path, start_offset=0, start_line=0):
        starts.append((start_offset, start_line))
        return parse(self, path, start_offset, start_line)

    monkeypatch.setattr(ClaudeCodeParser, "parse", spy)
    rep = ingest(con, [src])
    assert starts == [(len(b"".join(LINES[:8])), 8)]
    assert rep.records == len(LINES) - 8 and rep.messages_added == len(_ids(LINES) - _ids(LINES[:8]))
    assert _file_row(con) == (f.stat().st_size, len(LINES), len(LINES))
    line_nos = [r[0] for r in con.execute("SELECT line_no FROM records ORDER BY line_no").fetchall()]
    assert line_nos == list(range(1, len(LINES) + 1))


def test_unchanged_rerun_is_stat_only(setup, monkeypatch):
    src, con = setup
    (src / "s.jsonl").write_bytes(b"".join(LINES))
    ingest(con, [src])

    def boom(*a, **k):
        raise AssertionError("an unchanged file was opened")

    monkeypatch.setattr(ClaudeCodeParser, "parse", boom)
    monkeypatch.setattr("vault.ingest.fingerprint", boom)
    rep = ingest(con, [src])
    assert (rep.files, rep.files_unchanged, rep.messages_added) == (0, 1, 0)


@pytest.mark.parametrize("change", ["truncate", "rewrite_same_size"])
def test_rewritten_or_truncated_file_is_reread_and_replaced(setup, change):
    src, con = setup
    f = src / "s.jsonl"
    f.write_bytes(b"".join(LINES))
    ingest(con, [src])
    if change == "truncate":
        new = LINES[:5]
    else:  # same size, different bytes before the offset: only the fingerprint can tell
        new = [LINES[0], LINES[2], LINES[1], *LINES[3:]]
    f.write_bytes(b"".join(new))
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    ingest(con, [src])
    assert _messages(con) == _ids(new)
    assert con.execute("SELECT count(*) FROM records").fetchone()[0] == len(new)
    assert _file_row(con) == (f.stat().st_size, len(new), len(new))


def test_deleted_source_file_keeps_its_rows(setup):
    src, con = setup
    (src / "s.jsonl").write_bytes(b"".join(LINES))
    shutil.copy(claude_code_file("spotter/tool_heavy.jsonl"), src / "t.jsonl")
    ingest(con, [src])
    before = _messages(con)
    (src / "s.jsonl").unlink()
    rep = ingest(con, [src])
    assert rep.errors == [] and _messages(con) == before
    assert con.execute("SELECT count(*) FROM files").fetchone()[0] == 2


def test_resumed_session_copy_in_a_new_file_adds_no_duplicate(setup):
    """Claude Code repeats earlier records in the file of a resumed or forked session."""
    src, con = setup
    (src / "a.jsonl").write_bytes(b"".join(LINES))
    ingest(con, [src])
    n = len(_messages(con))
    (src / "b.jsonl").write_bytes(b"".join(LINES))  # the same records again
    rep = ingest(con, [src])
    assert rep.messages_added == 0 and len(_messages(con)) == n
    assert con.execute("SELECT count(*) FROM records").fetchone()[0] == 2 * len(LINES)  # raw kept per file
