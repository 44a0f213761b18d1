"""A whole JSON document (a ChatGPT or Claude.ai export, Gemini's legacy session file) that is broken is one error
for its file, at the line where its JSON breaks off (it was line 0 for all of them); what no line of the file says
(an empty document) stays line 0, the whole file. The expected lines come from Python's own json module."""

from __future__ import annotations

import json

import pytest

from support import ROOT
from vault.ingest import ingest

FIX = ROOT / "tests" / "fixtures" / "sources"


def _json_error_line(body: bytes) -> int:
    """The line where `body` stops being JSON, as Python's json module counts it."""
    try:
        json.loads(body)
    except json.JSONDecodeError as e:
        return e.lineno
    raise AssertionError("valid JSON")


@pytest.mark.parametrize("source", ["chatgpt", "claude_ai"])
def test_a_broken_document_names_the_line_where_its_json_breaks_off(con, tmp_path, source):
    body = json.dumps(json.loads((FIX / source / "conversations.json").read_bytes()), indent=2).encode()
    cut = tmp_path / "cut" / "conversations.json"
    cut.parent.mkdir()
    cut.write_bytes(body[: len(body) * 2 // 3])
    bad = tmp_path / "bad" / "conversations.json"
    bad.parent.mkdir()
    at = body.index(b'": ', len(body) // 2)
    bad.write_bytes(body[:at] + b'" ' + body[at + 3:])  # a key without its colon, half-way down
    for f, what in ((cut, "truncated"), (bad, "invalid")):
        line = _json_error_line(f.read_bytes())
        assert line > 1
        rep = ingest(con, [f], source=source)
        assert [(e["file"], e["line"]) for e in rep.errors] == [(str(f), line)], rep.errors
        assert f"{what} JSON document" in rep.errors[0]["reason"] and f"line {line} " in rep.errors[0]["reason"]


def test_an_empty_document_is_the_whole_file_line_0(con, tmp_path):
    empty = tmp_path / "conversations.json"
    empty.write_text("  \n")
    rep = ingest(con, [empty], source="chatgpt")
    assert [(e["line"], e["reason"]) for e in rep.errors] == [(0, "conversations.json is empty")]


def test_the_text_report_names_a_whole_file_error_by_the_file_alone_and_json_keeps_line_0(tmp_path, monkeypatch):
    from support import run_cli

    monkeypatch.setenv("COLUMNS", "400")  # one line however long the temporary path
    empty = tmp_path / "conversations.json"
    empty.write_text("  \n")
    cut = tmp_path / "cut" / "conversations.json"
    cut.parent.mkdir()
    cut.write_text('[{"title": "x",\n "mapping": {')
    db = tmp_path / "vault.duckdb"
    code, out, err = run_cli("ingest", "--no-embed", "--source", "chatgpt", str(empty), str(cut), db=db)
    lines = [ln.strip() for ln in out.splitlines()]
    assert f"{empty} conversations.json is empty" in lines, out
    assert not any(f"{empty}:0" in ln for ln in lines), out
    assert any(ln.startswith(f"{cut}:2 ") for ln in lines), out  # a line is still printed when there is one
    code, out, err = run_cli("ingest", "--no-embed", "--json", "--source", "chatgpt", str(empty),
                             db=tmp_path / "other.duckdb")
    errors = json.loads(out)["errors"]
    assert [(e["file"], e["line"]) for e in errors] == [(str(empty), 0)]


def test_an_error_in_one_conversation_says_conversation_not_line(tmp_path, monkeypatch):
    """The number of an error in a whole-document export counts conversations (items, messages), not the text's
    lines: the text report says which ("conversation 2", never "path:2"), and --json keeps `line` as it was and
    adds the unit's own field (`conversation`, `item`, `message`)."""
    from support import run_cli

    monkeypatch.setenv("COLUMNS", "400")
    chatgpt = tmp_path / "chatgpt" / "conversations.json"
    chatgpt.parent.mkdir()
    chatgpt.write_text('[{"title": "x", "mapping": {}},\n 42,\n {"mapping": "nope"}]')
    claude = tmp_path / "claude_ai" / "conversations.json"
    claude.parent.mkdir()
    claude.write_text('[{"uuid": "c1", "chat_messages": []}, 7]')
    legacy = json.loads(next((FIX / "gemini" / "legacy").glob("*.json")).read_text())
    del legacy["messages"][1]["id"]
    gemini = tmp_path / "gemini" / "session-1.json"
    gemini.parent.mkdir()
    gemini.write_text(json.dumps(legacy, indent=2))
    for f, source, said in ((chatgpt, "chatgpt", [("conversation", 2), ("conversation", 3)]),
                            (claude, "claude_ai", [("item", 2)]), (gemini, "gemini", [("message", 2)])):
        code, out, err = run_cli("ingest", "--no-embed", "--source", source, str(f), db=tmp_path / f"{source}.duckdb")
        lines = [ln.strip() for ln in out.splitlines()]
        for unit, n in said:
            assert any(ln.startswith(f"{f} {unit} {n}: ") for ln in lines), out
        assert not any(ln.startswith(f"{f}:") for ln in lines), out
        code, out, err = run_cli("ingest", "--no-embed", "--json", "--source", source, str(f),
                                 db=tmp_path / f"{source}-json.duckdb")
        errors = json.loads(out)["errors"]
        assert [(e["file"], e[unit], e["line"]) for e, (unit, _) in zip(errors, said, strict=True)] == [
            (str(f), n, n) for _, n in said], errors
