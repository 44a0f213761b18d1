"""One Claude.ai conversation saved alone: the claude.ai web API's `chat_conversations/<uuid>` response, a top-level
`{uuid, chat_messages, ...}` object (not an export's list), as viewer tools and browser extensions save it.

Read by the export's own conversation code (vault/sources/claude_ai.py); the counts here come from the file itself
(json.load), not from the parser.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from saved_alone import ingest_saved_alone, rows, stored_documents
from support import CORPORA, run_cli
from vault.ingest import ingest
from vault.sources import detect_parser

# osteele/claude-chat-viewer testdata (MIT), in ../shared.
BAKERY = CORPORA / "wild" / "claude-ai" / "claude-chat-viewer" / "claude-bakery-chat.json"
ROOT_PARENT = "00000000-0000-4000-8000-000000000000"

SAVED = {  # the API response's shape: no `account`; messages chained by parent_message_uuid; an edited prompt
    "uuid": "c0ffee00-0000-4000-8000-000000000001", "name": "Saved alone", "summary": "", "model": "claude-x",
    "created_at": "2025-01-02T03:04:05.000000+00:00", "updated_at": "2025-01-02T03:09:05.000000+00:00",
    "settings": {"preview_feature_uses_artifacts": True}, "is_starred": False,
    "current_leaf_message_uuid": "m4",
    "chat_messages": [
        {"uuid": "m1", "text": "", "content": [{"type": "text", "text": "first question"}], "sender": "human",
         "index": 0, "created_at": "2025-01-02T03:04:05Z", "parent_message_uuid": ROOT_PARENT,
         "attachments": [], "files": [], "files_v2": [], "sync_sources": [], "truncated": False},
        {"uuid": "m2", "text": "", "content": [{"type": "text", "text": "first answer"}], "sender": "assistant",
         "index": 1, "created_at": "2025-01-02T03:05:05Z", "parent_message_uuid": "m1", "attachments": [], "files": []},
        {"uuid": "m3", "text": "", "content": [{"type": "text", "text": "edited away"}], "sender": "human",
         "index": 2, "created_at": "2025-01-02T03:06:05Z", "parent_message_uuid": "m2", "attachments": [], "files": []},
        {"uuid": "m4", "text": "", "content": [{"type": "text", "text": "kept prompt"}], "sender": "human",
         "index": 3, "created_at": "2025-01-02T03:07:05Z", "parent_message_uuid": "m2", "attachments": [], "files": []},
    ],
}


def test_a_conversation_saved_alone_is_read_as_its_export_element_would_be(con, tmp_path):
    ingest_saved_alone(con, tmp_path, SAVED, "claude_ai")
    assert rows(con, "SELECT msg_id, role, is_human, on_main_branch, text FROM messages ORDER BY seq") == [
        ("m1", "user", True, True, "first question"), ("m2", "assistant", False, True, "first answer"),
        ("m3", "user", True, False, "edited away"), ("m4", "user", True, True, "kept prompt")]
    assert rows(con, "SELECT session_id, source, title FROM sessions") == [(SAVED["uuid"], "claude_ai", "Saved alone")]


def test_an_unchanged_saved_conversation_adds_nothing_again(con, tmp_path):
    f = tmp_path / "saved-chat.json"
    f.write_text(json.dumps(SAVED))
    first = ingest(con, [f])
    assert first.messages_added == len(SAVED["chat_messages"])
    again = ingest(con, [f])
    assert (again.files, again.files_unchanged, again.messages_added) == (0, 1, 0)
    assert rows(con, "SELECT count(*) FROM messages")[0][0] == len(SAVED["chat_messages"])
    assert rows(con, "SELECT count(*) FROM records")[0][0] == 1


def test_a_damaged_saved_conversation_is_one_line_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # a line rich does not wrap, whatever the length of the temporary path
    folder = tmp_path / "in"
    folder.mkdir()
    body = json.dumps(SAVED, indent=2).encode()
    cut = folder / "cut-chat.json"
    cut.write_bytes(body[: len(body) * 2 // 3])  # truncated JSON: its head still shows uuid and chat_messages
    code, out, err = run_cli("ingest", str(folder), "--json", "--no-embed", db=tmp_path / "v.duckdb")
    assert code == 0, err
    rep = json.loads(out)
    said = [e for e in rep["errors"] + rep["unrecognised"] if e["file"] == str(cut)]
    assert len(said) == 1 and said[0] in rep["errors"], rep
    assert "cut-chat.json" in said[0]["reason"] and "truncated JSON" in said[0]["reason"], said
    assert "\n" not in said[0]["reason"]

    # Without --json: one line, naming the file.
    code, out, err = run_cli("ingest", str(folder), "--no-embed", db=tmp_path / "v2.duckdb")
    lines = [ln for ln in (out + err).splitlines() if "cut-chat.json" in ln]
    assert code == 0 and len(lines) == 1 and "truncated" in lines[0], out + err


def test_a_saved_conversation_whose_messages_are_not_a_list_is_one_error(con, tmp_path):
    f = tmp_path / "odd-chat.json"
    f.write_text(json.dumps({**SAVED, "chat_messages": None}))
    rep = ingest(con, [f])
    assert rep.unrecognised == [] and len(rep.errors) == 1 and rep.messages_added == 0, rep
    assert rep.errors[0]["file"] == str(f) and "chat_messages" in rep.errors[0]["reason"]


@pytest.mark.skipif(not BAKERY.is_file(), reason=f"needs the shared corpora: {BAKERY} (absent in a bare clone)")
def test_the_claude_chat_viewer_saved_conversation(con):
    doc = json.loads(BAKERY.read_text(encoding="utf-8"))  # the independent count
    msgs = doc["chat_messages"]
    senders = {m["uuid"]: m["sender"] for m in msgs}
    assert len(msgs) == 4 and sorted(senders.values()) == ["assistant", "assistant", "human", "human"]

    assert detect_parser(BAKERY).name == "claude_ai"
    rep = ingest(con, [BAKERY])
    assert rep.errors == [] and rep.unrecognised == [] and rep.by_source == {"claude_ai": 1}
    got = dict(rows(con, "SELECT msg_id, role FROM messages WHERE msg_id IN (SELECT unnest(?))", list(senders)))
    assert got == {u: ("user" if s == "human" else "assistant") for u, s in senders.items()}
    human = {r[0] for r in rows(con, "SELECT msg_id FROM messages WHERE is_human")}
    assert human == {u for u, s in senders.items() if s == "human"}
    assert rows(con, "SELECT DISTINCT session_id FROM messages") == [(doc["uuid"],)]
    assert stored_documents(con) == [doc]
    assert ingest(con, [BAKERY]).messages_added == 0
