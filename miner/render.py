"""One compact line per tool call (`[Bash] pytest -q`), shared by the classifiers' context and the pairs."""

from __future__ import annotations

import json
from typing import Any

from vault.redact import clip
from vault.render import cut

TOOL_ARG_CHARS = 160

# The one argument that says what a tool call did; other tools fall back to the stored text.
TOOL_ARG = {
    "Bash": "command", "Read": "file_path", "Edit": "file_path", "MultiEdit": "file_path",
    "Write": "file_path", "NotebookEdit": "notebook_path", "Grep": "pattern", "Glob": "pattern",
    "Task": "description", "Agent": "description", "WebFetch": "url", "WebSearch": "query",
    "shell": "command", "exec_command": "cmd", "apply_patch": None, "update_plan": None,
}


def tool_line(name: str | None, input_json: Any, text: str) -> str:
    """`[Bash] pytest -q`: one line per tool call."""
    arg = None
    key = TOOL_ARG.get(name or "", "")
    if key:
        try:
            data = json.loads(input_json) if isinstance(input_json, str) else input_json
            v = data.get(key) if isinstance(data, dict) else None
            arg = " ".join(v) if isinstance(v, list) else v
        except (ValueError, TypeError):
            arg = None
    if arg is None and key is not None:
        arg = text or ""
        if name and arg.startswith(name + "("):
            arg = arg[len(name) + 1:].removesuffix(")")
    arg = " ".join(str(arg or "").split())
    if len(arg) > TOOL_ARG_CHARS:  # redact, then cut: a cut secret no longer matches its pattern
        arg = clip(arg, TOOL_ARG_CHARS)
    return f"[{name or 'tool'}] {arg}".rstrip()


# --- tool calls as what they did, for preference pairs -----------------------------------------

TOOL_DETAIL_CHARS = 2400  # per answer: detail beyond the one-line stub, first calls first
COMMAND_CHARS = 600  # a shell command, whole up to this
DIFF_LINES = 24  # of an edit's unified diff
WRITE_LINES = 12  # of a written file's head


def _count(n: int, noun: str) -> str:
    """`1 line`, `2 lines`: a count and its noun (the rendered pairs said "(1 lines)")."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _args(input_json: Any) -> dict:
    try:
        data = json.loads(input_json) if isinstance(input_json, str) else input_json
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def _diff(old: str, new: str, path: str) -> list[str]:
    import difflib

    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), fromfile=path, tofile=path, lineterm="",
                                      n=1))[2:]  # the ---/+++ header repeats the path
    more = len(lines) - DIFF_LINES
    return lines[:DIFF_LINES] + ([f"… ({_count(more, 'more diff line')})"] if more > 0 else [])


def tool_detail(name: str | None, input_json: Any) -> str | None:
    """What a tool call did, with the arguments that matter: the whole command, the file and a bounded diff,
    the head of a written file. None when a one-line stub says it all."""
    a = _args(input_json)
    if name in ("Bash", "shell") and isinstance(a.get("command"), (str, list)):
        cmd = a["command"] if isinstance(a["command"], str) else " ".join(a["command"])
        return f"[{name}] $ {cut(cmd.strip(), COMMAND_CHARS)}"
    if name == "Edit" and "old_string" in a:
        path = str(a.get("file_path", ""))
        return "\n".join([f"[Edit] {path}", *_diff(str(a.get("old_string", "")), str(a.get("new_string", "")), path)])
    if name == "MultiEdit" and isinstance(a.get("edits"), list):
        path = str(a.get("file_path", ""))
        lines = [f"[MultiEdit] {path} ({_count(len(a['edits']), 'edit')})"]
        for e in a["edits"]:
            if isinstance(e, dict):
                lines += _diff(str(e.get("old_string", "")), str(e.get("new_string", "")), path)
        return "\n".join(lines[: DIFF_LINES + 1])
    if name == "Write" and isinstance(a.get("content"), str):
        body = a["content"].splitlines()
        head = [f"    {ln}" for ln in body[:WRITE_LINES]]
        more = [f"    … ({_count(len(body) - WRITE_LINES, 'more line')})"] if len(body) > WRITE_LINES else []
        return "\n".join([f"[Write] {a.get('file_path', '')} ({_count(len(body), 'line')})", *head, *more])
    return None


def render_tool_calls(calls: list[tuple[str | None, Any, str]], budget: int = TOOL_DETAIL_CHARS) -> list[str]:
    """One block per (name, input, one-line stub), in order: detailed while the budget lasts, then the stub."""
    out = []
    for name, input_json, stub in calls:
        detail = tool_detail(name, input_json)
        if detail and len(detail) - len(stub) <= budget:
            budget -= len(detail) - len(stub)
            out.append(detail)
        else:
            out.append(stub)
    return out
