"""OpenAI-style tool use in neutral JSONL (issue 13): an assistant's `tool_calls` are tool calls, a
`role: "tool"` message is the result of the call it names (`tool_call_id`), paired in `tool_calls`."""

from __future__ import annotations

import json

from vault.ingest import ingest


def _call(cid: str, name: str, args: dict) -> dict:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


CONVERSATIONS = [
    {"id": "t1", "messages": [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [_call("call_1", "get_weather", {"city": "Paris"}),
                                                              _call("call_2", "get_time", {"tz": "CET"})]},
        {"role": "tool", "tool_call_id": "call_2", "content": "noon"},  # answers may come in any order
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "assistant", "content": "18C at noon."},
    ]},
    {"id": "t2", "messages": [  # the same call id in another conversation is another call
        {"role": "user", "content": "Find it"},
        {"role": "assistant", "content": "Searching.", "tool_calls": [_call("call_1", "search", {"query": "it"})]},
        {"role": "tool", "tool_call_id": "call_1", "content": "found"},
    ]},
    {"id": "t3", "messages": [  # the legacy single function_call and its `function` answer
        {"role": "user", "content": "Look x up"},
        {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}},
        {"role": "function", "name": "lookup", "content": "x is 1"},
    ]},
]


def test_openai_tool_calls_and_results(con, tmp_path):
    src = tmp_path / "tools.jsonl"
    src.write_text("".join(json.dumps(c) + "\n" for c in CONVERSATIONS))
    rep = ingest(con, [src])
    assert rep.errors == [] and rep.by_source == {"neutral": 1}
    msgs = {r[0]: r[1:] for r in con.execute(
        "SELECT msg_id, role, kind, tool_name, tool_use_id IS NOT NULL FROM messages").fetchall()}
    # Every list item keeps its contract id "<id>#<i>"; a second call of one item is "<id>#<i>:tool:<j>".
    assert msgs["t1#1"] == ("assistant", "tool_call", "get_weather", True)
    assert msgs["t1#1:tool:1"] == ("assistant", "tool_call", "get_time", True)
    assert msgs["t1#2"][:2] == msgs["t1#3"][:2] == ("tool", "tool_result")
    assert msgs["t2#1"] == ("assistant", "assistant_text", None, False)
    assert msgs["t2#1:tool:0"] == ("assistant", "tool_call", "search", True)
    assert msgs["t3#1"] == ("assistant", "tool_call", "lookup", True)
    assert msgs["t3#2"][:2] == ("tool", "tool_result")

    calls = con.execute(
        "SELECT session_id, name, input, call_msg_id, result_msg_id, result FROM tool_results ORDER BY 1, 2"
    ).fetchall()
    assert [(s, n, json.loads(i), c, r, t) for s, n, i, c, r, t in calls] == [
        ("t1", "get_time", {"tz": "CET"}, "t1#1:tool:1", "t1#2", "noon"),
        ("t1", "get_weather", {"city": "Paris"}, "t1#1", "t1#3", "18C"),
        ("t2", "search", {"query": "it"}, "t2#1:tool:0", "t2#2", "found"),
        ("t3", "lookup", {"q": "x"}, "t3#1", "t3#2", "x is 1"),
    ]
    # A result's tool_use_id is its call's.
    joined = con.execute("SELECT count(*) FROM messages r JOIN messages c ON c.tool_use_id = r.tool_use_id "
                         "WHERE r.kind = 'tool_result' AND c.kind = 'tool_call'").fetchone()[0]
    assert joined == 4
    order = [r[0] for r in con.execute("SELECT msg_id FROM messages WHERE session_id = 't1' ORDER BY seq").fetchall()]
    assert order == ["t1#0", "t1#1", "t1#1:tool:1", "t1#2", "t1#3", "t1#4"]


def test_a_tool_line_that_answers_no_call_stays_a_tool_call(con, tmp_path):
    """Console transcripts (corpora/conversations) write a tool use as one `tool` turn: the call with its output."""
    conv = {"id": "c", "messages": [{"role": "user", "content": "read it"},
                                    {"role": "tool", "content": "Read(file_path: \"a.md\")…\n  ⎿  # A"},
                                    {"role": "assistant", "content": "done"}]}
    src = tmp_path / "console.jsonl"
    src.write_text(json.dumps(conv) + "\n")
    ingest(con, [src])
    kinds = [r[0] for r in con.execute("SELECT kind FROM messages ORDER BY seq").fetchall()]
    assert kinds == ["human_prompt", "tool_call", "assistant_text"]
    assert con.execute("SELECT count(*) FROM tool_calls").fetchone()[0] == 0
