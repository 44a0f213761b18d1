"""One compact line per tool call (`[Bash] pytest -q`), shared by the classifiers' context and the pairs."""

from __future__ import annotations

import json
from typing import Any

from vault.redact import clip

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
