"""Human-side turns of Claude Code 2.x, exactly: one turn per thing a person typed or did.

Each case is checked on the real lines of `../shared/corpora/wild/` (read from there, never
copied), and the human-side count of every `wild/` Claude Code file is compared with a count
made here from the raw JSON by a few structural rules that share no code with the parser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import CORPORA, needs_shared

pytestmark = needs_shared

WILD_CC = CORPORA / "wild" / "claude-code"
HUMAN_SIDE = ("human_prompt", "queued_prompt", "tool_rejection", "interrupt")


@pytest.fixture(scope="module")
def wild_vault(tmp_path_factory):
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(tmp_path_factory.mktemp("wild") / "v.duckdb")
    ingest(con, [WILD_CC])
    yield con
    con.close()


def at(con, rel: str, line: int) -> dict:
    """The message made from line `line` of wild/claude-code/`rel`."""
    row = con.execute(
        """SELECT m.msg_id, m.kind, m.is_human, m.text, m.extra FROM messages m JOIN files f USING (file_id)
           WHERE f.path LIKE '%/wild/claude-code/' || ? AND m.line_no = ?""", [rel, line]).fetchone()
    assert row is not None, (rel, line)
    return {"msg_id": row[0], "kind": row[1], "is_human": row[2], "text": row[3],
            "extra": json.loads(row[4]) if row[4] else {}}


def raw(rel: str, line: int) -> dict:
    return json.loads((WILD_CC / rel).read_text(encoding="utf-8").splitlines()[line - 1])


FUNDWISE = "fundwise/claude-session.jsonl"
SHARE = "session-share/0ccf1a04-1b4c-43b6-8aa5-79e41db43a68.jsonl"
AUDIT = "campaign-audit/transcript.jsonl"
MC_ASK = "m-claude/343e3472-b9b6-4561-ade0-21d1a4730c11.jsonl"
MC_CLARIFY = "m-claude/d8126fa6-87d4-443d-ba41-0dbf2faecb65.jsonl"
MC_TASKS = "m-claude/21037e11-89de-484d-abba-8705254aa991.jsonl"


def test_a_queued_prompt_delivered_later_as_a_user_record_is_one_turn(wild_vault):
    # Line 1: the enqueue (typed while the assistant worked); line 3: the same prompt as a user record.
    assert raw(FUNDWISE, 1)["operation"] == "enqueue" and raw(FUNDWISE, 3)["type"] == "user"
    queued, delivered = at(wild_vault, FUNDWISE, 1), at(wild_vault, FUNDWISE, 3)
    assert delivered["kind"] == "human_prompt" and delivered["is_human"]
    assert queued["kind"] == "queued_duplicate" and not queued["is_human"]
    assert queued["extra"]["duplicate_of"] == delivered["msg_id"] == "ea56f991-5326-4085-a940-317b9cbec189"
    # Delivered 48 lines later (after a /plugin command and more work): still the same turn.
    assert at(wild_vault, SHARE, 34)["extra"]["duplicate_of"] == at(wild_vault, SHARE, 82)["msg_id"]


def test_a_queued_prompt_never_delivered_is_one_turn(wild_vault):
    # Lines 16-17: typed while subagents ran, then popped back (popAll, lines 18-19); no user record follows.
    assert [raw(SHARE, n)["operation"] for n in (16, 17, 18, 19)] == ["enqueue", "enqueue", "popAll", "popAll"]
    for n in (16, 17):
        m = at(wild_vault, SHARE, n)
        assert m["kind"] == "queued_prompt" and m["is_human"] and m["text"] == raw(SHARE, n)["content"]


def test_a_queued_prompt_sent_as_an_attachment_is_one_turn(wild_vault):
    # Line 545 enqueues, 549 removes it from the queue, 550 delivers it as a queued_command attachment.
    assert raw(AUDIT, 549)["operation"] == "remove"
    assert raw(AUDIT, 550)["attachment"]["type"] == "queued_command"
    queued, attached = at(wild_vault, AUDIT, 545), at(wild_vault, AUDIT, 550)
    assert queued["kind"] == "queued_prompt" and queued["is_human"]
    assert attached["kind"] == "queued_duplicate" and attached["extra"]["duplicate_of"] == queued["msg_id"]


def test_the_two_copies_are_one_turn_when_two_ingest_runs_read_them(tmp_path):
    """A live session: the enqueue is ingested before its user record is written."""
    from vault.ingest import ingest
    from vault.store import open_vault

    lines = (WILD_CC / SHARE).read_bytes().splitlines(keepends=True)
    live = tmp_path / "0ccf1a04-1b4c-43b6-8aa5-79e41db43a68.jsonl"  # a temporary copy, deleted with tmp_path
    live.write_bytes(b"".join(lines[:40]))
    con = open_vault(tmp_path / "v.duckdb")

    def kinds():
        return dict(con.execute("SELECT line_no, kind FROM messages WHERE line_no IN (34, 82)").fetchall())

    ingest(con, [live])
    assert kinds() == {34: "queued_prompt"}  # not delivered yet: the enqueue is the turn
    with live.open("ab") as fh:
        fh.write(b"".join(lines[40:]))
    ingest(con, [live])
    assert kinds() == {34: "queued_duplicate", 82: "human_prompt"}
    con.close()


def test_a_prompt_refused_by_a_hook_is_hook_output(wild_vault):
    rel = "entire-cli/54_bb2ec87cc8_0/full.jsonl"
    assert raw(rel, 5)["message"]["content"].startswith("Operation stopped by hook: ")
    m = at(wild_vault, rel, 5)
    assert m["kind"] == "hook_feedback" and not m["is_human"]
    # The person quoting that text inside their own prompt is still a person typing.
    quoted = at(wild_vault, "entire-cli/20_160c0576c0_0/full.jsonl", 7)
    assert quoted["kind"] == "human_prompt" and "Operation stopped by hook" in quoted["text"]


def test_ask_user_question_picked_options_are_not_typed_but_a_free_answer_is(wild_vault):
    # Line 292: one answer ("zima.thisness.us") is not among the offered options: typed in "Other".
    offered = {o["label"] for q in raw(MC_ASK, 292)["toolUseResult"]["questions"] for o in q["options"]}
    assert "zima.thisness.us" not in offered
    typed = at(wild_vault, MC_ASK, 292)
    assert typed["kind"] == "human_prompt" and typed["is_human"] and typed["text"] == "zima.thisness.us"
    # Line 307: every answer is an offered option.
    picked = at(wild_vault, MC_ASK, 307)
    assert picked["kind"] == "user_answer" and not picked["is_human"]


def test_ask_user_question_clarify_template_is_not_a_typed_rejection_reason(wild_vault):
    body = raw(MC_CLARIFY, 128)["message"]["content"][0]["content"]
    assert body.startswith("The user doesn't want to proceed") and "The user wants to clarify these questions" in body
    m = at(wild_vault, MC_CLARIFY, 128)
    assert m["kind"] == "user_answer" and not m["is_human"]


def test_typed_answers_reads_answers_and_notes_from_the_text():
    from vault.sources.claude_code import typed_answers

    asked = {"questions": [{"question": "Which DB?", "options": [{"label": "DuckDB"}, {"label": "SQLite"}]},
                           {"question": "Tests?", "options": [{"label": "unit"}, {"label": "e2e"}],
                            "multiSelect": True}]}
    picked = 'User has answered your questions: "Which DB?"="DuckDB", "Tests?"="unit, e2e". You can now continue'
    assert typed_answers(picked, None, asked) == []
    free = 'User has answered your questions: "Which DB?"="postgres please", "Tests?"="unit". You can now continue'
    assert typed_answers(free, None, asked) == ["postgres please"]
    clarify = ('The user wants to clarify these questions.\n    Questions asked:\n- "Which DB?"\n  Answer: DuckDB\n'
               '  User notes: only if it runs offline\n- "Tests?"\n  (No answer provided)')
    assert typed_answers(clarify, None, asked) == ["only if it runs offline"]
    assert typed_answers(free, None, None) == []  # options unknown: never guess that an answer was typed


def test_task_notifications_are_never_human_in_any_shape(wild_vault):
    queued, record = at(wild_vault, MC_TASKS, 287), at(wild_vault, MC_TASKS, 552)
    assert raw(MC_TASKS, 287)["type"] == "queue-operation" and raw(MC_TASKS, 552)["type"] == "user"
    attached = at(wild_vault, "posthog-impact-dashboard/claude-session.jsonl", 106)
    for m in (queued, record, attached):
        assert m["text"].lstrip().startswith("<task-notification>")
        assert m["kind"] not in HUMAN_SIDE and not m["is_human"], m


# -- an independent count ------------------------------------------------------------------------

NOT_TYPED = ("<command-", "<local-command-", "<bash-stdout>", "<bash-stderr>", "<task-notification>", "Caveat: ",
             "Stop hook feedback:", "SubagentStop hook feedback:", "PreToolUse:", "PostToolUse:",
             "UserPromptSubmit hook", "Operation stopped by hook:", "Base directory for this skill:",
             "This session is being continued from a previous conversation")
REJECTIONS = ("The user doesn't want to proceed", "The user doesn't want to take this action",
              "Permission for this tool use was denied")
REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)


def _plain(content) -> str:
    if isinstance(content, list):
        content = "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return REMINDER.sub("", content if isinstance(content, str) else "").strip()


def _free_answer(rec: dict) -> bool:
    res = rec.get("toolUseResult")
    if not isinstance(res, dict) or not isinstance(res.get("answers"), dict):
        return False
    offered = {o.get("label") for q in res.get("questions", []) for o in q.get("options", [])}
    return any(a not in offered and not set(a.split(", ")) <= offered for a in res["answers"].values())


def _user_turn(rec: dict) -> bool:
    content = rec["message"]["content"]
    if isinstance(content, list) and any(b.get("type") == "tool_result" for b in content if isinstance(b, dict)):
        bodies = [_plain(b.get("content")) for b in content if b.get("type") == "tool_result"]
        rejected = any(b.startswith(REJECTIONS) and "The user wants to clarify" not in b for b in bodies)
        return rejected or _free_answer(rec)
    text = _plain(content)
    return bool(text) and not text.startswith(NOT_TYPED)


def count_turns(path: Path) -> int:
    """Human-side records of one file: typed prompts, interrupts, tool rejections, queued prompts once."""
    if path.name.startswith("agent-") or "subagents" in path.parts:
        return 0
    recs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            continue  # a line broken by its author's redaction
    n, queued = 0, []  # queued: texts enqueued and not delivered as a user record yet
    for rec in recs:
        kind = rec.get("type")
        if kind == "user" and not (rec.get("isMeta") or rec.get("isSidechain") or rec.get("isCompactSummary")):
            if _user_turn(rec):
                text = _plain(rec["message"]["content"])
                if text in queued:
                    queued.remove(text)  # the enqueue was this same turn
                else:
                    n += 1
        elif kind == "queue-operation" and rec.get("operation") == "enqueue":
            text = _plain(rec.get("content"))
            if text and not text.startswith(NOT_TYPED + ("/",)):
                queued.append(text)
                n += 1
        elif kind == "attachment" and rec["attachment"].get("type") == "queued_command":
            text = _plain(rec["attachment"].get("prompt"))
            if (rec["attachment"].get("origin") or {}).get("kind") == "human" and text not in queued:
                n += 1
            elif text in queued:
                queued.remove(text)
    return n


WILD_FILES = sorted(WILD_CC.rglob("*.jsonl")) if WILD_CC.is_dir() else []


def test_every_wild_file_has_as_many_human_side_turns_as_counted_from_the_raw_json(wild_vault):
    got = dict(wild_vault.execute(
        f"""SELECT f.path, count(m.msg_id) FILTER (WHERE m.kind IN {HUMAN_SIDE})
            FROM files f LEFT JOIN messages m USING (file_id) GROUP BY 1""").fetchall())
    expected = {str(p.resolve()): count_turns(p) for p in WILD_FILES}
    assert len(expected) >= 40 and sum(expected.values()) > 250
    diff = {p: (got.get(p), n) for p, n in expected.items() if got.get(p) != n}
    assert not diff
