"""One `vault.sources.base.tool_summary` names a tool call on one line for every parser (Claude Code had a copy of its
own, found by the duplicates tool): Claude Code keeps its argument order (a Task call named by its description), and
now joins a list argument as the others do (it listed the argument names instead)."""

from __future__ import annotations

import json

from vault.sources.base import CLAUDE_CODE_SUMMARY_KEYS, tool_summary
from vault.sources.claude_code import ClaudeCodeParser


def _tool_use(name: str, inp: dict, n: int) -> str:
    return json.dumps({
        "parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/p", "type": "assistant",
        "sessionId": "11111111-1111-4111-8111-111111111111", "version": "2.1.39", "requestId": f"req_{n}",
        "message": {"model": "m", "id": f"msg_{n}", "type": "message", "role": "assistant",
                    "content": [{"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": inp}]},
        "uuid": f"00000000-0000-4000-8000-00000000000{n}", "timestamp": f"2026-02-01T10:00:0{n}.000Z"})


def test_claude_code_tool_calls_are_named_by_the_one_summary(tmp_path):
    f = tmp_path / "s.jsonl"
    calls = [("Task", {"description": "find the flaky test", "prompt": "Look through tests/ ..."}),
             ("mcp__x__run", {"command": ["git", "status"]}),
             ("Bash", {"command": "pytest -q\n-x", "description": "run the tests"})]
    f.write_text("".join(_tool_use(name, inp, n) + "\n" for n, (name, inp) in enumerate(calls, 1)))
    texts = [m.text for m in ClaudeCodeParser().parse(f).messages]
    assert texts == ["Task(description=find the flaky test)", "mcp__x__run(command=git status)",
                     "Bash(command=pytest -q -x)"]
    assert texts == [tool_summary(name, inp, CLAUDE_CODE_SUMMARY_KEYS) for name, inp in calls]
    assert tool_summary("Task", calls[0][1]) == "Task(prompt=Look through tests/ ...)"  # the other parsers' order
