"""One ChatGPT conversation saved alone: a top-level `{title, create_time, mapping, current_node, ...}` object (an
export's element on its own), not the export's list. Read by the export's own conversation code
(vault/sources/chatgpt.py), as the Claude.ai conversation saved alone is (test_claude_ai_single.py).

The expectations here come from the hand-made file itself, not from the parser."""

from __future__ import annotations

import json

from saved_alone import ingest_saved_alone, rows
from vault.ingest import ingest


def _node(nid, parent, children, role=None, text=None, t=None):
    message = None if role is None else {
        "id": nid, "author": {"role": role, "name": None, "metadata": {}}, "create_time": t,
        "content": {"content_type": "text", "parts": [text]}, "status": "finished_successfully", "end_turn": True,
        "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {}, "recipient": "all"}
    return {"id": nid, "message": message, "parent": parent, "children": children}


SAVED = {  # a question, an answer regenerated once: the kept one is current_node's
    "title": "Saved alone", "create_time": 1735787045.5, "update_time": 1735787345.5,
    "mapping": {
        "root": _node("root", None, ["q1"]),
        "q1": _node("q1", "root", ["a1", "a2"], "user", "how do I undo a commit?", 1735787046.0),
        "a1": _node("a1", "q1", [], "assistant", "git reset --hard (regenerated away)", 1735787050.0),
        "a2": _node("a2", "q1", [], "assistant", "git revert <sha> keeps history", 1735787060.0),
    },
    "moderation_results": [], "current_node": "a2", "plugin_ids": None,
    "conversation_id": "c0ffee00-0000-4000-8000-0000000000aa", "conversation_template_id": None, "is_archived": False,
    "safe_urls": [], "default_model_slug": "gpt-4o", "id": "c0ffee00-0000-4000-8000-0000000000aa",
}


def test_a_chatgpt_conversation_saved_alone_is_read_as_its_export_element_would_be(con, tmp_path):
    ingest_saved_alone(con, tmp_path, SAVED, "chatgpt")
    assert rows(con, "SELECT msg_id, role, is_human, on_main_branch, text FROM messages ORDER BY seq") == [
        ("q1", "user", True, True, "how do I undo a commit?"),
        ("a1", "assistant", False, False, "git reset --hard (regenerated away)"),
        ("a2", "assistant", False, True, "git revert <sha> keeps history")]
    assert rows(con, "SELECT session_id, source, title FROM sessions") == [(SAVED["id"], "chatgpt", "Saved alone")]
    assert ingest(con, [tmp_path / "saved-chat.json"]).messages_added == 0


def test_a_saved_chatgpt_conversation_whose_mapping_is_not_an_object_is_one_error(con, tmp_path):
    f = tmp_path / "odd-chat.json"
    f.write_text(json.dumps({**SAVED, "mapping": ["not", "an", "object"]}))
    rep = ingest(con, [f], source="chatgpt")
    assert rep.unrecognised == [] and rep.messages_added == 0 and len(rep.errors) == 1, rep
    assert rep.errors[0]["file"] == str(f) and "'mapping'" in rep.errors[0]["reason"]

