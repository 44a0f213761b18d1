"""Each record type and message kind, checked on real lines of ../shared/corpora/claude-code (picked
by uuid) and, where the corpora lack a case, on tests/fixtures/claude_code (see its README)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from support import CLAUDE_CORPUS
from vault.ingest import ingest
from vault.rawstore import read_raw
from vault.store import open_vault

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "claude_code"

# (file under the corpus, record uuid, record type in the file, expected kind, is_human)
REAL = [
    ("spotter/short.jsonl", "7d48cbd2-6615-4dd8-87f6-38f12b8167d6", "user", "human_prompt", True),
    ("sniffly/fed8ce56-bc79-401f-a83e-af084253362f.jsonl", "551b8810-8c39-4269-a926-19ccaafaf3a0", "user",
     "interrupt", False),
    ("spotter/tool_heavy.jsonl", "29e6224a-ea4f-445c-964f-d2bbddd138d0", "user", "interrupt", False),
    ("spotter/short.jsonl", "1b7d717f-d6a2-46a6-8575-fa4f937450ea", "assistant", "assistant_text", False),
    ("spotter/fa812bfe-b295-4cca-9c2f-fdf01028cb46.jsonl", "04788022-3619-46d0-9a22-554bc64a06fb", "assistant",
     "thinking", False),
    ("spotter/ae4a77f8-aedd-4bc1-888f-c94edc91af04.jsonl", "004cf9eb-a1ad-40e8-a3b6-87e5c4a07b91", "assistant",
     "tool_call", False),
    ("spotter/ae4a77f8-aedd-4bc1-888f-c94edc91af04.jsonl", "008c9214-6e2c-4f55-b750-6ff286d23695", "user",
     "tool_result", False),
    ("sniffly/fed8ce56-bc79-401f-a83e-af084253362f.jsonl", "39c07e08-fa7d-479e-a2bf-9e32fddee1f7", "user",
     "tool_rejection", False),
    ("sniffly/fed8ce56-bc79-401f-a83e-af084253362f.jsonl", "288b2d5f-06f5-48e0-88d1-2d1cd2fe2efb", "user",
     "tool_rejection", False),
    ("sniffly/ba79134d-b6e9-4867-af0c-6941038c9e4b.jsonl", "77bbcba8-0d9a-4a90-91e0-3dbc20125e6e", "user",
     "command", False),
    ("spotter/tool_heavy.jsonl", "32f63b8a-e199-4502-a897-b78bfc17cfc3", "user", "command_output", False),
    ("spotter/short.jsonl", "87cfd146-38ca-48ef-96f2-3c893113b511", "system", "command", False),
    ("spotter/short.jsonl", "40003bdd-2613-4975-83d5-36fb0b6bbc59", "system", "command_output", False),
    ("claude-code-viewer/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl", "5a3fdd4a-ac04-44ec-8323-407fdb4c7c06",
     "user", "meta", False),
    ("spotter/8463c716-a2ea-4c14-9efa-87158ebd9f20.jsonl", "01ea0ad0-925d-4fd3-8171-cb8027dab4f5", "user",
     "compact_summary", False),
    ("spotter/fa812bfe-b295-4cca-9c2f-fdf01028cb46.jsonl", "7b6887e9-15c3-485b-98c7-eb986f5abc7f", "system",
     "system", False),  # compact_boundary
    ("spotter/fa812bfe-b295-4cca-9c2f-fdf01028cb46.jsonl", "1e4e1ca2-fe4f-48ee-976b-86da6e988e31", "system",
     "hook_feedback", False),  # stop_hook_summary
    ("spotter/fa812bfe-b295-4cca-9c2f-fdf01028cb46.jsonl", "16af1a30-bb5d-4e73-af54-b6b7e8d54bf3", "system",
     "system", False),  # turn_duration
    ("spotter/258c7280-ae70-4798-800f-63464d01a85d.jsonl", "0a5857c1-7c3d-4165-b520-c7eff1cfa27a", "user",
     "task_notification", False),
    ("claude-code-viewer/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl", "0d692b0f-17cb-4fd0-94fb-215dabcef803",
     "user", "subagent_prompt", False),  # v1.0 inline isSidechain
    ("spotter/ae4a77f8-aedd-4bc1-888f-c94edc91af04/subagents/agent-acompact-946d2b.jsonl",
     "0bfe3134-312c-453f-89e2-2cd38068e160", "user", "subagent_prompt", False),
    ("spotter/subagent.jsonl", "89c1dcbb-5839-4876-9d89-da3bda24798c", "user", "user_answer", False),
]


def _raw(rel: str, uuid: str) -> dict:
    for line in (CLAUDE_CORPUS / rel).read_bytes().splitlines():
        if uuid.encode() in line:
            rec = json.loads(line)
            if rec.get("uuid") == uuid:
                return rec
    raise AssertionError(f"{uuid} not in {rel}")


@pytest.fixture(scope="module")
def corpus(corpus_vault):
    con = duckdb.connect(str(corpus_vault), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def fixtures_con(tmp_path_factory):
    con = open_vault(tmp_path_factory.mktemp("fx") / "vault.duckdb")
    rep = ingest(con, [FIXTURES])
    assert rep.skipped_lines == 0
    yield con, rep
    con.close()


def _msg(con, msg_id: str) -> dict:
    if isinstance(con, tuple):
        con = con[0]
    cur = con.execute("SELECT * FROM messages WHERE msg_id = ?", [msg_id])
    row = cur.fetchone()
    assert row is not None, msg_id
    return dict(zip([d[0] for d in cur.description], row, strict=True))


@pytest.mark.parametrize(("rel", "uuid", "rtype", "kind", "human"), REAL, ids=[f"{r[3]}-{r[1][:8]}" for r in REAL])
def test_real_record_kind(corpus, rel, uuid, rtype, kind, human):
    assert _raw(rel, uuid)["type"] == rtype
    m = _msg(corpus, uuid)
    assert (m["kind"], m["is_human"]) == (kind, human)


def test_real_system_subtypes_kept(corpus):
    boundary = json.loads(_msg(corpus, "7b6887e9-15c3-485b-98c7-eb986f5abc7f")["extra"])
    assert boundary == {"subtype": "compact_boundary", "trigger": "auto", "preTokens": 167117}
    assert json.loads(_msg(corpus, "16af1a30-bb5d-4e73-af54-b6b7e8d54bf3")["extra"])["subtype"] == "turn_duration"


def test_queued_human_message_from_queue_operation(corpus):
    rows = corpus.execute(
        "SELECT text, kind, is_human FROM messages WHERE session_id = '258c7280-ae70-4798-800f-63464d01a85d' "
        "AND msg_id LIKE 'queue-%' ORDER BY seq").fetchall()
    assert ("check again", "queued_prompt", True) in rows
    # Task notifications are enqueued too, but nobody typed them.
    assert any(k == "task_notification" and not h for _, k, h in rows)
    slash = corpus.execute("SELECT kind, is_human FROM messages WHERE msg_id LIKE 'queue-%' AND text = '/mcp'").fetchall()
    assert slash == [("command", False)]


def test_records_of_one_api_call_share_a_turn(corpus):
    # short.jsonl: thinking, text and tool_use blocks of msg_01MKH1ccEGrZGNPvu8pYiiQa are separate records.
    raw_uuids = {json.loads(line)["uuid"] for line in (CLAUDE_CORPUS / "spotter/short.jsonl").read_bytes().splitlines()
                 if b"msg_01MKH1ccEGrZGNPvu8pYiiQa" in line}
    turn = corpus.execute("SELECT msg_id, kind FROM messages WHERE turn_id = 'msg_01MKH1ccEGrZGNPvu8pYiiQa'").fetchall()
    assert {m for m, _ in turn} == raw_uuids and len(raw_uuids) >= 3
    assert {"thinking", "tool_call", "assistant_text"} <= {k for _, k in turn}


def test_tool_use_paired_with_its_result(corpus):
    row = corpus.execute(
        "SELECT name, call_msg_id, result_msg_id, is_error FROM tool_calls WHERE call_msg_id = ?",
        ["004cf9eb-a1ad-40e8-a3b6-87e5c4a07b91"]).fetchone()
    assert row[0] == "Bash" and row[3] is False
    result = _msg(corpus, row[2])
    assert result["kind"] == "tool_result" and result["tool_use_id"] == _msg(corpus, row[1])["tool_use_id"]
    unpaired = corpus.execute("SELECT count(*) FROM tool_calls WHERE session_id NOT LIKE '%#%' "
                              "AND (call_msg_id IS NULL OR result_msg_id IS NULL)").fetchone()[0]
    assert unpaired <= 2  # calls cut off by the end of a published file


def test_non_message_records_kept_raw(corpus):
    counts = dict(corpus.execute("SELECT record_type, count(*) FROM records GROUP BY 1").fetchall())
    for t in ("progress", "file-history-snapshot", "summary", "queue-operation"):
        assert counts.get(t, 0) > 0, t


def test_summary_titles_its_session(corpus):
    title = corpus.execute("SELECT title FROM sessions WHERE session_id = 'ba79134d-b6e9-4867-af0c-6941038c9e4b'"
                           ).fetchone()[0]
    assert title == "AI Music: Embedding Words into Sound"


def test_subagents_inline_and_v21_folder(corpus):
    # v1.0 inline: sidechain records stay in the main session, flagged.
    inline = corpus.execute("SELECT count(*) FROM messages WHERE session_id = 'fe5e1c67-53e7-4862-81ae-d0e013e3270b' "
                            "AND is_sidechain").fetchone()[0]
    assert inline > 100
    # v2.1 <session>/subagents/agent-*.jsonl: own session, linked to the parent and its Task call.
    s = corpus.execute("SELECT parent_session_id, parent_tool_use_id FROM sessions WHERE session_id = "
                       "'fa812bfe-b295-4cca-9c2f-fdf01028cb46/agent-a93ccab'").fetchone()
    assert s[0] == "fa812bfe-b295-4cca-9c2f-fdf01028cb46"
    call = corpus.execute("SELECT name, subagent_session_id FROM tool_calls WHERE tool_use_id = ?", [s[1]]).fetchone()
    assert call == ("Task", "fa812bfe-b295-4cca-9c2f-fdf01028cb46/agent-a93ccab")
    compact = corpus.execute("SELECT agent_type FROM sessions WHERE session_id LIKE '%/agent-acompact-%'").fetchall()
    assert compact and {r[0] for r in compact} == {"compaction"}


def test_parallel_tool_results_stay_on_the_main_branch(corpus):
    """short.jsonl: two parallel tool calls; the first result hangs off the first call's record, a
    sibling of the second call. That is not a rewind: nothing in this session was abandoned."""
    off = corpus.execute("SELECT msg_id, kind FROM messages WHERE session_id = '55604662-cf2a-4331-851a-ec234028f8ca' "
                         "AND NOT on_main_branch").fetchall()
    assert off == []


# -- fixtures for cases the corpora lack -------------------------------------------------------
U = "00000000-0000-4000-8000-{:012d}".format


def test_fixture_rejection_with_typed_reason(fixtures_con):
    m = _msg(fixtures_con, U(4))
    assert (m["kind"], m["is_human"], m["text"]) == (
        "tool_rejection", True, "Use a validator class instead of an if statement.")


def test_fixture_system_reminder_stripped_from_human_text(fixtures_con):
    m = _msg(fixtures_con, U(1))
    assert m["kind"] == "human_prompt" and m["is_human"]
    assert "system-reminder" not in m["text"] and "IDE" not in m["text"]
    assert "Please make it reject them." in m["text"]
    [raw] = [r[-1] for r in read_raw(fixtures_con[0], "record_id = ?", [U(1)])]
    assert "<system-reminder>" in raw  # kept raw


def test_fixture_attachment_queued_command_api_error_titles(fixtures_con):
    assert (_msg(fixtures_con, U(6))["kind"], _msg(fixtures_con, U(6))["is_human"]) == ("queued_prompt", True)
    assert _msg(fixtures_con, U(7))["kind"] == "api_error"
    title = fixtures_con[0].execute("SELECT title FROM sessions WHERE session_id = ?",
                                 ["11111111-1111-4111-8111-111111111111"]).fetchone()[0]
    assert title == "Fix the login form"  # custom-title beats ai-title


def test_fixture_unknown_record_type_kept_and_counted(fixtures_con):
    assert fixtures_con[1].unknown_types == {"hologram-snapshot": 1}
    [raw] = [r[-1] for r in read_raw(fixtures_con[0], "record_type = 'hologram-snapshot'")]
    assert json.loads(raw)["frames"] == [1, 2, 3]


def test_fixture_fork_keeps_both_branches_marks_the_continued_one(fixtures_con):
    rows = dict(fixtures_con[0].execute(
        "SELECT msg_id, on_main_branch FROM messages WHERE msg_id IN (?, ?, ?, ?)", [U(9), U(10), U(11), U(12)]
    ).fetchall())
    assert rows == {U(9): False, U(10): False, U(11): True, U(12): True}


def test_fixture_v20_agent_file_beside_the_session(fixtures_con):
    sid = "22222222-2222-4222-8222-222222222222"
    s = fixtures_con[0].execute("SELECT parent_session_id, parent_tool_use_id FROM sessions WHERE session_id = ?",
                             [f"{sid}/agent-5f3c9a1b"]).fetchone()
    assert s == (sid, "toolu_task20")
    assert _msg(fixtures_con, U(111))["kind"] == "subagent_prompt"
    assert _msg(fixtures_con, U(111))["is_human"] is False


def test_fixture_v21_meta_json(fixtures_con):
    sid = "33333333-3333-4333-8333-333333333333"
    s = fixtures_con[0].execute("SELECT parent_session_id, parent_tool_use_id, agent_type, title FROM sessions "
                             "WHERE session_id = ?", [f"{sid}/agent-a7e0c42"]).fetchone()
    assert s == (sid, "toolu_task21", "code-reviewer", "Review diff")
    link = fixtures_con[0].execute("SELECT subagent_session_id FROM tool_calls WHERE tool_use_id = 'toolu_task21'"
                                ).fetchone()[0]
    assert link == f"{sid}/agent-a7e0c42"


def test_fixture_resumed_session_records_stored_once(fixtures_con):
    n = fixtures_con[0].execute("SELECT count(*) FROM records WHERE record_id = ?", [U(301)]).fetchone()[0]
    assert n == 2  # raw in both files
    rows = fixtures_con[0].execute("SELECT session_id FROM messages WHERE msg_id IN (?, ?)", [U(301), U(303)]).fetchall()
    assert sorted(r[0][:8] for r in rows) == ["44444444", "55555555"]
