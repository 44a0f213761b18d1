"""Codex, ChatGPT, Claude.ai, Gemini and neutral JSONL parsers, on real-shaped samples in tests/fixtures/sources.

The samples follow the published formats (see docs/sources.md); the neutral corpora in
../shared/corpora are real. Each format is also fed malformed, truncated and empty input.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import orjson
import pytest

from support import CONVERSATIONS, ROOT, run_cli
from vault.ingest import ingest
from vault.sources import detect_parser, parsers, read_head

FIX = ROOT / "tests" / "fixtures" / "sources"
CODEX = FIX / "codex" / "sessions" / "2025" / "10" / "29" / (
    "rollout-2025-10-29T00-59-38-019a2d7a-41c4-78b1-b7cc-a45d62a89cd5.jsonl")
CODEX_LEGACY = next((FIX / "codex" / "legacy").glob("*.jsonl"))
CHATGPT = FIX / "chatgpt" / "conversations.json"
CLAUDE_AI = FIX / "claude_ai" / "conversations.json"
GEMINI = next((FIX / "gemini" / "tmp" / "3f2a9c" / "chats").glob("session-*.jsonl"))
GEMINI_LEGACY = next((FIX / "gemini" / "legacy").glob("*.json"))

EXPECTED_SOURCE = {
    CODEX: "codex", CODEX_LEGACY: "codex", CHATGPT: "chatgpt", CLAUDE_AI: "claude_ai",
    FIX / "claude_ai" / "projects.json": "claude_ai", GEMINI: "gemini", GEMINI_LEGACY: "gemini",
    FIX / "neutral" / "wildchat.jsonl": "neutral", FIX / "neutral" / "lmsys.jsonl": "neutral",
    FIX / "neutral" / "sharegpt.jsonl": "neutral",
}


def rows(con, sql, *args):
    return con.execute(sql, list(args)).fetchall()


# -- detection -------------------------------------------------------------------------

@pytest.mark.parametrize("path", list(EXPECTED_SOURCE), ids=lambda p: p.name[:40])
def test_each_sample_is_claimed_by_exactly_its_own_parser(path):
    head = read_head(path)
    claims = [p.name for p in parsers() if path.suffix in p.suffixes and p.detect(path, head)]
    assert claims == [EXPECTED_SOURCE[path]]


def test_claude_code_and_neutral_corpora_are_not_claimed_by_the_new_parsers(tmp_path):
    from support import CLAUDE_CORPUS, EXAMPLES

    # A bare clone has no ../shared (rglob would find nothing there): the bundled Claude Code examples.
    claude = CLAUDE_CORPUS if CLAUDE_CORPUS.is_dir() else EXAMPLES / "claude-code"
    paths = [*claude.rglob("*.jsonl"), *CONVERSATIONS.glob("*.jsonl")]
    assert sum(p.is_relative_to(claude) for p in paths) >= 10 and len(paths) > 12
    for path in paths:
        assert detect_parser(path).name in ("claude_code", "neutral"), path


def test_unrecognised_files_get_a_specific_reason(con, tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "list.json").write_text('[{"foo": 1}]')
    (tmp_path / "nothing.json").write_text("[]")
    (tmp_path / "other.jsonl").write_text('{"event": "click", "x": 1}\n')
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as zf:
        zf.writestr("a.txt", "x")
    shutil.copy(FIX / "chatgpt" / "message_feedback.json", tmp_path / "message_feedback.json")
    rep = ingest(con, [tmp_path])
    reasons = {Path(u["file"]).name: u["reason"] for u in rep.unrecognised}
    assert reasons["empty.jsonl"] == "empty file"
    assert "no 'mapping'" in reasons["list.json"] and "'chat_messages'" in reasons["list.json"]
    assert "empty JSON array" in reasons["nothing.json"]
    assert "{event, x}" in reasons["other.jsonl"]
    assert "without a conversations.json" in reasons["photos.zip"]
    assert "companion" in reasons["message_feedback.json"]
    assert ingest(con, [tmp_path]).unrecognised == []  # reported once


# -- Codex -----------------------------------------------------------------------------

def test_codex_rollout(con):
    rep = ingest(con, [CODEX])
    assert rep.errors == [] and rep.by_source == {"codex": 1}
    sid = "019a2d7a-41c4-78b1-b7cc-a45d62a89cd5"
    lines = [json.loads(x) for x in CODEX.read_text().splitlines()]
    items = [(i, x["payload"]) for i, x in enumerate(lines, 1) if x["type"] == "response_item"]
    # event_msg duplicates are stored once: one message per response item (reasoning with a summary included).
    assert rows(con, "SELECT count(*) FROM messages WHERE session_id = ? AND kind <> 'interrupt'", sid)[0][0] == len(items)
    ids = {r[0] for r in rows(con, "SELECT msg_id FROM messages WHERE session_id = ?", sid)}
    for i, p in items:
        assert (p.get("id") or f"{sid}:{i}") in ids
    human = rows(con, "SELECT text FROM messages WHERE session_id = ? AND is_human ORDER BY seq", sid)
    typed = [p["content"][0]["text"] for _, p in items if p.get("role") == "user"
             and not p["content"][0]["text"].startswith("<environment_context>")]
    assert [h[0] for h in human] == typed
    kinds = dict(rows(con, "SELECT kind, count(*) FROM messages WHERE session_id = ? GROUP BY 1", sid))
    assert kinds["interrupt"] == 1 and kinds["tool_rejection"] == 1 and kinds["meta"] == 1 and kinds["thinking"] == 1
    sess = rows(con, "SELECT project, cwd, git_branch, version, model FROM sessions WHERE session_id = ?", sid)[0]
    assert sess == ("tinyhttp", "/home/dev/projects/tinyhttp", "fix-chunked", "0.46.0", "gpt-5-codex")
    calls = rows(con, "SELECT name, call_msg_id IS NOT NULL, result_msg_id IS NOT NULL FROM tool_calls WHERE session_id = ?", sid)
    assert sorted(calls) == [("apply_patch", True, True), ("shell", True, True), ("shell", True, True)]


def test_codex_legacy_rollout(con):
    ingest(con, [CODEX_LEGACY])
    msgs = rows(con, "SELECT kind, is_human, text FROM messages ORDER BY seq")
    assert [m[0] for m in msgs] == ["human_prompt", "tool_call", "tool_result", "assistant_text"]
    assert msgs[2][2] == "todo.md\nscratch.md\n"  # the JSON-string output wrapper is unwrapped
    assert rows(con, "SELECT session_id, git_branch FROM sessions") == [("c27a914d-8a2b-4f0e-9c1d-2e3f4a5b6c7d", "main")]


def test_codex_appended_lines_are_read_from_the_offset(con, tmp_path):
    lines = CODEX.read_bytes().splitlines(keepends=True)
    f = tmp_path / "rollout-x.jsonl"
    f.write_bytes(b"".join(lines[:10]))
    first = ingest(con, [f]).messages_added
    with open(f, "ab") as fh:
        fh.write(b"".join(lines[10:]))
    again = ingest(con, [f])
    assert again.messages_added > 0 and again.records == len(lines) - 10  # only the tail was read
    # Messages of the tail belong to the session named by the header, read again for the offset.
    assert rows(con, "SELECT DISTINCT session_id FROM messages") == [("019a2d7a-41c4-78b1-b7cc-a45d62a89cd5",)]
    assert first + again.messages_added == _clean_count(tmp_path, CODEX)


def _clean_count(tmp_path, path) -> int:
    """Messages the intact sample gives, in a vault of its own."""
    from vault.store import open_vault

    other = open_vault(tmp_path / f"clean-{path.stem[:20]}.duckdb")
    try:
        return ingest(other, [path]).messages_added
    finally:
        other.close()


def test_codex_malformed_and_partial_lines(con, tmp_path):
    lines = CODEX.read_bytes().splitlines(keepends=True)
    f = tmp_path / "rollout-bad.jsonl"
    f.write_bytes(b"".join(lines[:3]) + b'{"timestamp": "2025-10-29", "type": "response_item", "payl\n'
                  + b"\xff\xfe\n" + b"".join(lines[3:]) + lines[2][:40])  # a live writer's partial line
    rep = ingest(con, [f])
    assert [e["line"] for e in rep.errors] == [4, 5]
    assert rep.messages_added == _clean_count(tmp_path, CODEX)  # nothing around the bad lines is lost


# -- ChatGPT ---------------------------------------------------------------------------

def test_chatgpt_branches_and_feedback(con):
    rep = ingest(con, [CHATGPT.parent])
    assert rep.errors == [] and rep.by_source == {"chatgpt": 1}
    conv = orjson.loads(CHATGPT.read_bytes())[0]
    mapping = conv["mapping"]
    kept, node = set(), conv["current_node"]
    while node:
        kept.add(node)
        node = mapping[node]["parent"]
    got = dict(rows(con, "SELECT msg_id, on_main_branch FROM messages WHERE session_id = ?", conv["id"]))
    for mid, on_main in got.items():
        assert on_main == (mid in kept), mid
    assert sum(1 for v in got.values() if not v) == 3  # one regenerated answer, one edited prompt and its answer
    extra = {m: json.loads(e) for m, e in rows(con, "SELECT msg_id, extra FROM messages WHERE extra IS NOT NULL")}
    assert extra["d5e6-a1"]["branch"] == "regeneration" and extra["d5e6-a1"]["sibling_of"] == "e7f8-a1b"
    assert extra["f9a0-u2"]["branch"] == "edit" and extra["f9a0-u2"]["sibling_of"] == "f9a0-u2b"
    assert extra["e7f8-a1b"]["alternatives"] == ["d5e6-a1"]
    fb = {f["message_id"]: f for f in orjson.loads((CHATGPT.parent / "message_feedback.json").read_bytes())}
    for mid, f in fb.items():
        assert extra[mid]["feedback"] == ("down" if f["rating"] == "thumbsDown" else "up")
    assert extra["d5e6-a1"]["feedback_text"] == "too generic"
    kinds = dict(rows(con, "SELECT msg_id, kind FROM messages WHERE session_id = '65f0a1b2-0000-4000-8000-00000000c0de'"))
    assert kinds == {"0a1b-ctx": "system", "1b2c-u1": "human_prompt", "2c3d-a1": "tool_call", "3d4e-t1": "tool_result",
                     "4e5f-th": "thinking", "5f60-a2": "assistant_text"}


def test_chatgpt_export_zip_matches_the_plain_file(con, tmp_path, db_path):
    z = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name in ("conversations.json", "message_feedback.json"):
            zf.write(CHATGPT.parent / name, f"export/{name}")
        zf.writestr("chat.html", "<html></html>")
    ingest(con, [z])
    from_zip = rows(con, "SELECT msg_id, on_main_branch, extra FROM messages ORDER BY msg_id")
    from vault.store import open_vault

    other = open_vault(tmp_path / "plain.duckdb")
    ingest(other, [CHATGPT])
    assert from_zip == rows(other, "SELECT msg_id, on_main_branch, extra FROM messages ORDER BY msg_id")
    other.close()


def test_chatgpt_rewritten_export_is_reread_without_duplicates(con, tmp_path):
    f = tmp_path / "conversations.json"
    docs = orjson.loads(CHATGPT.read_bytes())
    f.write_bytes(orjson.dumps(docs[:1]))
    n1 = ingest(con, [f]).messages_added
    assert ingest(con, [f]).messages_added == 0
    f.write_bytes(orjson.dumps(docs))
    rep = ingest(con, [f])
    assert rep.files == 1 and rows(con, "SELECT count(*) FROM messages")[0][0] == n1 + 6


def test_whole_document_truncated_or_wrong_shape(con, tmp_path):
    for name, data in (("chatgpt", CHATGPT), ("claude_ai", CLAUDE_AI)):
        d = tmp_path / name
        d.mkdir()
        body = data.read_bytes()
        (d / "conversations.json").write_bytes(body[: len(body) // 2])
        rep = ingest(con, [d / "conversations.json"])
        line = body[: len(body) // 2].count(b"\n") + 1  # where it breaks off
        assert len(rep.errors) == 1 and rep.errors[0]["line"] == line and "truncated" in rep.errors[0]["reason"]
    bad = tmp_path / "bad" / "conversations.json"
    bad.parent.mkdir()
    bad.write_text('[{"title": "x", "mapping": {}}, 42, {"mapping": "nope"}]')
    rep = ingest(con, [bad])
    assert [e["line"] for e in rep.errors] == [2, 3] and rep.messages_added == 0


# -- Claude.ai -------------------------------------------------------------------------

def test_claude_ai_export(con):
    rep = ingest(con, [CLAUDE_AI.parent])
    assert rep.errors == [] and rep.by_source == {"claude_ai": 2}
    convs = orjson.loads(CLAUDE_AI.read_bytes())
    for conv in convs:
        ids = {r[0] for r in rows(con, "SELECT msg_id FROM messages WHERE session_id = ?", conv["uuid"])}
        assert {m["uuid"] for m in conv["chat_messages"]} <= ids
        human = [r[0] for r in rows(con, "SELECT msg_id FROM messages WHERE session_id = ? AND is_human", conv["uuid"])]
        assert sorted(human) == sorted(m["uuid"] for m in conv["chat_messages"] if m["sender"] == "human")
    old, new = convs
    att = rows(con, "SELECT kind, text FROM messages WHERE msg_id = ?", old["chat_messages"][2]["uuid"] + ":attachment:0")
    assert att == [("meta", old["chat_messages"][2]["attachments"][0]["extracted_content"])]
    kinds = [r[0] for r in rows(con, "SELECT kind FROM messages WHERE msg_id LIKE ? ORDER BY seq",
                                new["chat_messages"][1]["uuid"] + "%")]
    assert kinds == ["thinking", "tool_call", "tool_result", "assistant_text"]
    # The edited prompt (a sibling of the kept one) and its answer are off the kept branch.
    off = {r[0] for r in rows(con, "SELECT msg_id FROM messages WHERE NOT on_main_branch")}
    assert off == {new["chat_messages"][2]["uuid"], new["chat_messages"][3]["uuid"]}
    sess = dict(rows(con, "SELECT session_id, project FROM sessions"))
    assert sess[new["uuid"]] == "Travel planning"  # named from projects.json
    assert rows(con, "SELECT count(*) FROM records WHERE record_type = 'project'")[0][0] == 1


def test_claude_ai_schema_drift(con, tmp_path):
    """Fields move between export versions: missing content, unknown blocks, no sender, stray items."""
    f = tmp_path / "conversations.json"
    f.write_text(json.dumps([{"uuid": "c1", "chat_messages": [
        {"uuid": "m1", "sender": "human", "text": "hi", "content": None},
        {"uuid": "m2", "sender": "assistant", "content": [{"type": "future_block", "x": 1}, {"type": "text", "text": "yo"}]},
        {"uuid": "m3", "text": "no sender", "attachments": None, "files": [{"file_name": "a.png"}]},
        "garbage", {"no_uuid": True}]}]))
    rep = ingest(con, [f])
    assert rep.errors == []
    assert rows(con, "SELECT msg_id, role, kind, text FROM messages ORDER BY seq") == [
        ("m1", "user", "human_prompt", "hi"), ("m2", "assistant", "assistant_text", "yo"),
        ("m3", "assistant", "assistant_text", "no sender")]


# -- Gemini ----------------------------------------------------------------------------

def test_gemini_session_last_wins_and_rewinds(con):
    rep = ingest(con, [GEMINI.parent.parent])
    assert rep.errors == [] and rep.by_source == {"gemini": 2}
    recs = [json.loads(x) for x in GEMINI.read_text().splitlines()]
    sid = recs[0]["sessionId"]
    # g-0001 was written twice: the last version (with the tool result and tokens) wins, stored once.
    calls = rows(con, "SELECT msg_id, kind, text FROM messages WHERE msg_id LIKE 'g-0001%' ORDER BY seq")
    assert [c[1] for c in calls] == ["thinking", "tool_call", "tool_result"]
    assert calls[2][2].startswith("export const slug")
    rewind = next(r["$rewindTo"] for r in recs if "$rewindTo" in r)
    order = [r["id"] for r in recs if "id" in r]
    dropped = set(order[order.index(rewind):order.index(rewind) + 3])  # up to the rewind record
    off = {r[0].split(":")[0] for r in rows(con, "SELECT msg_id FROM messages WHERE NOT on_main_branch")}
    assert off == dropped
    sess = rows(con, "SELECT title, project, cwd, model FROM sessions WHERE session_id = ?", sid)[0]
    assert sess == ("Fix slugify dropping accented letters", "slugify", "/home/dev/projects/slugify", "gemini-2.5-pro")
    sub = rows(con, "SELECT parent_session_id FROM sessions WHERE session_id LIKE 'c0ffee00%'")
    assert sub == [(sid,)]
    kinds = dict(rows(con, "SELECT msg_id, kind FROM messages WHERE session_id = ?", sid))
    assert kinds["i-0001"] == "interrupt" and kinds["g-0003:result:write_file-1768212066-1"] == "tool_rejection"


def test_gemini_legacy_json_and_malformed_lines(con, tmp_path):
    ingest(con, [GEMINI_LEGACY])
    doc = orjson.loads(GEMINI_LEGACY.read_bytes())
    assert [r[0] for r in rows(con, "SELECT msg_id FROM messages ORDER BY seq")] == [m["id"] for m in doc["messages"]]
    lines = GEMINI.read_bytes().splitlines(keepends=True)
    f = tmp_path / "session-bad.jsonl"
    f.write_bytes(lines[0] + b"{not json\n" + b"[1]\n" + b"".join(lines[1:]))
    rep = ingest(con, [f])
    assert [(e["line"], e["reason"][:12]) for e in rep.errors] == [(2, "invalid JSON"), (3, "expected a J")]
    t = tmp_path / "session-trunc.json"
    t.write_bytes(GEMINI_LEGACY.read_bytes()[:200])
    rep = ingest(con, [t], source="gemini")
    assert len(rep.errors) == 1 and rep.errors[0]["line"] == GEMINI_LEGACY.read_bytes()[:200].count(b"\n") + 1


# -- neutral ---------------------------------------------------------------------------

def test_neutral_wildchat_lmsys_sharegpt(con):
    ingest(con, [FIX / "neutral"])
    users = dict(rows(con, "SELECT session_id, user_id FROM sessions"))
    for line in (FIX / "neutral" / "wildchat.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert users[row["conversation_hash"]] == row["hashed_ip"]  # personas per user
        for i, m in enumerate(row["conversation"]):
            got = rows(con, "SELECT role, is_human FROM messages WHERE msg_id = ?", f"{row['conversation_hash']}#{i}")
            assert got == [(m["role"], m["role"] == "user")]
    assert users["33f01939a744455c869cb234afca47f1"] is None
    glaive = rows(con, "SELECT kind, is_human FROM messages WHERE session_id = 'glaive_12' ORDER BY seq")
    assert glaive == [("system", False), ("human_prompt", True), ("tool_call", False), ("tool_result", False),
                      ("assistant_text", False), ("other", False)]


def test_neutral_corpora_msg_ids_follow_the_contract(con):
    ingest(con, [CONVERSATIONS])
    have = {r[0] for r in rows(con, "SELECT msg_id FROM messages")}
    want = set()
    for f in CONVERSATIONS.glob("*.jsonl"):
        for line in f.read_text().splitlines():
            row = json.loads(line)
            cid = next(str(row[k]) for k in ("id", "conversation_hash", "conversation_id") if row.get(k))
            msgs = next(row[k] for k in ("messages", "conversation", "conversations") if isinstance(row.get(k), list))
            want |= {f"{cid}#{i}" for i in range(len(msgs))}
    assert want and want == have


# -- the command line ------------------------------------------------------------------

def test_stats_reports_every_source(db_path):
    code, out, _ = run_cli("ingest", str(FIX), "--no-embed", "--json", db=db_path)
    assert code == 0
    code, out, _ = run_cli("stats", "--json", db=db_path)
    st = json.loads(out)
    assert set(st["by_source"]) == {"codex", "chatgpt", "claude_ai", "gemini", "neutral"}
    assert all(v["sessions"] > 0 and v["messages"] > 0 for v in st["by_source"].values())


def test_ingest_without_arguments_reads_the_default_locations(db_path, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(FIX / "codex" / "sessions", home / ".codex" / "sessions")
    shutil.copytree(FIX / "gemini" / "tmp", home / ".gemini" / "tmp")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    code, out, err = run_cli("ingest", "--no-embed", "--json", db=db_path)
    assert code == 0, err
    rep = json.loads(out)
    assert rep["by_source"] == {"codex": 1, "gemini": 2}
    assert "found codex archive" in err and "found gemini archive" in err and "claude_code" not in err


def test_ingest_without_arguments_and_no_archive_says_so(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    code, out, err = run_cli("ingest", "--no-embed", db=db_path)
    assert "No archive found" in err


def test_source_option_forces_a_format(con, tmp_path):
    f = tmp_path / "my-export.json"
    shutil.copy(CHATGPT, f)
    assert ingest(con, [f], source="chatgpt").by_source == {"chatgpt": 1}
    with pytest.raises(KeyError):
        ingest(con, [f], source="nope")
