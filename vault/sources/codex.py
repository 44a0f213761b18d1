"""Codex CLI rollouts: `~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl` (and `archived_sessions/`).

Lines are `{timestamp, type, payload}`: `session_meta`, `turn_context`, `response_item`
(message, reasoning, function_call / custom_tool_call / local_shell_call and their
outputs), `event_msg` and `compacted`. The legacy format (mid 2025) has no wrapper: a
bare header `{id, timestamp, instructions, git}`, `{"record_type": "state"}` markers and
bare response items.

`event_msg` user_message / agent_message / agent_reasoning repeat the response items:
they are kept raw only, so each message is stored once. `turn_aborted` (a person pressed
Esc) becomes an interrupt. msg_id = the payload's `id` when it has one, else
"<session id>:<line>". The session id is `session_meta.id` (a UUID).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from vault.model import Kind, LineError, Message, ParseResult, RawRecord, ToolCall
from vault.sources.base import (
    RESULT_TEXT_CHARS,
    Head,
    Parser,
    as_text,
    first_json_line,
    iter_jsonl,
    timestamp,
    tool_summary,
)
from vault.sources.documents import str_or_none

SOURCE = "codex"

WRAPPED_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
CALL_TYPES = frozenset({"function_call", "custom_tool_call", "local_shell_call", "web_search_call"})
OUTPUT_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})
ITEM_TYPES = frozenset({"message", "reasoning"}) | CALL_TYPES | OUTPUT_TYPES

# Context Codex injects as user-role messages: not typed by a person.
_INJECTED_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md instructions", "<INSTRUCTIONS>",
                      "<permissions instructions>", "<turn_aborted>", "<user_action>", "<skill>")
_SHELL_PREFIX = "<user_shell_command>"
_REJECT_PREFIXES = ("exec command rejected by user", "patch rejected by user")
HEADER_LINES = 5  # lines read to find the session header when parsing from an offset


def _is_legacy_header(obj: Any) -> bool:
    return isinstance(obj, dict) and "id" in obj and "timestamp" in obj and "type" not in obj and not any(
        isinstance(obj.get(k), list) for k in ("messages", "conversation", "conversations"))


def _shape(obj: Any) -> str | None:
    """'wrapped', 'legacy' (header, state marker or bare item) or None."""
    if not isinstance(obj, dict):
        return None
    rtype = obj.get("type")
    rtype = rtype if isinstance(rtype, str) else None  # a list or object there must not raise (unhashable)
    if rtype in WRAPPED_TYPES and isinstance(obj.get("payload"), dict):
        return "wrapped"
    if obj.get("record_type") == "state" or _is_legacy_header(obj):
        return "legacy"
    if rtype in ITEM_TYPES and "payload" not in obj and ("role" in obj or "call_id" in obj or "summary" in obj):
        return "legacy"
    return None


class CodexParser(Parser):
    name = SOURCE
    incremental = True
    suffixes = (".jsonl",)

    def detect(self, path: Path, head: Head) -> bool:
        lines = list(head.records(HEADER_LINES))
        if not lines:
            return False
        first = _shape(lines[0])
        if first == "wrapped":
            return True
        # A bare legacy header alone is too generic: require a state marker or a bare item after it.
        return first == "legacy" and any(_shape(o) == "legacy" and not _is_legacy_header(o) for o in lines[1:])

    def parse(self, path: Path, start_offset: int = 0, start_line: int = 0) -> ParseResult:
        res = ParseResult()
        st = _State(path, res)
        if start_offset:
            st.read_header()
        for line_no, offset, rec, raw in iter_jsonl(path, res, start_offset, start_line):
            shape = _shape(rec)
            if shape == "wrapped":
                rtype, payload = rec["type"], rec["payload"]
                ts = timestamp(rec.get("timestamp"))
            elif _is_legacy_header(rec):
                rtype, payload, ts = "session_meta", rec, timestamp(rec.get("timestamp"))
            elif rec.get("record_type") == "state":
                rtype, payload, ts = "state", None, None
            elif isinstance(rec.get("type"), str) and rec["type"] in ITEM_TYPES:
                rtype, payload, ts = "response_item", rec, timestamp(rec.get("timestamp"))
            else:
                rtype, payload, ts = None, None, None
            sub_type = payload.get("type") if isinstance(payload, dict) else None
            rid = str_or_none(payload.get("id")) if isinstance(payload, dict) and rtype != "session_meta" else None
            if rtype == "session_meta":
                st.meta(payload, ts)
            res.raw.append(RawRecord(line_no, offset, f"{rtype}/{sub_type}" if rtype and isinstance(sub_type, str)
                                     else rtype, rid, st.sid, raw))
            if rtype is None:
                key = str(rec.get("type") or "<no type>")
                res.unknown_types[key] = res.unknown_types.get(key, 0) + 1
                continue
            try:
                st.record(rtype, payload, ts, line_no, rid)
            except (TypeError, AttributeError, ValueError, KeyError) as e:
                res.errors.append(LineError(line_no, f"unexpected {rtype} record shape: {e}"))
        return res


class _State:
    """What one parse of a rollout knows: the session, the current model, the messages made."""

    def __init__(self, path: Path, res: ParseResult):
        self.path, self.res = path, res
        self.sid: str | None = None
        self.model: str | None = None

    def read_header(self) -> None:
        with open(self.path, "rb") as fh:
            for _ in range(HEADER_LINES):
                obj = first_json_line(fh.readline())
                if isinstance(obj, dict) and obj.get("type") == "session_meta" and isinstance(obj.get("payload"), dict):
                    self.meta(obj["payload"], None, touch=False)
                    return
                if _is_legacy_header(obj):
                    self.meta(obj, None, touch=False)
                    return

    def meta(self, p: dict, ts: str | None, touch: bool = True) -> None:
        if self.sid is not None:
            return  # a forked rollout repeats its parent's meta: the first one names this file
        self.sid = str_or_none(p.get("id")) or self.path.stem
        if not touch:
            return
        sess = self.res.session(self.sid, SOURCE)
        cwd = str_or_none(p.get("cwd"))
        sess.cwd = cwd
        sess.project = Path(cwd.rstrip("/")).name if cwd else None
        git = p.get("git") if isinstance(p.get("git"), dict) else {}
        sess.git_branch = str_or_none(git.get("branch"))
        sess.version = str_or_none(p.get("cli_version"))
        sess.model = str_or_none(p.get("model"))
        sess.started_at = timestamp(p.get("timestamp")) or ts

    def add(self, line_no: int, rid: str | None, **kw) -> None:
        if self.sid is None:  # no header: name the session after the file
            self.sid = self.path.stem
        self.res.session(self.sid, SOURCE)
        self.res.messages.append(Message(msg_id=rid or f"{self.sid}:{line_no}", session_id=self.sid,
                                         line_no=line_no, **kw))

    def record(self, rtype: str, p: Any, ts: str | None, line_no: int, rid: str | None) -> None:
        if rtype == "turn_context":
            self.model = str_or_none(p.get("model")) or self.model
            if self.model and self.sid:
                self.res.session(self.sid, SOURCE).model = self.model
        elif rtype == "response_item":
            self.item(p, ts, line_no, rid)
        elif rtype == "event_msg":
            if p.get("type") == "turn_aborted":
                self.add(line_no, None, role="user", kind=Kind.INTERRUPT, text=f"[turn aborted: {p.get('reason')}]",
                         timestamp=ts, extra={"reason": p.get("reason")})
        elif rtype == "compacted":
            self.add(line_no, None, role="user", kind=Kind.COMPACT_SUMMARY, text=as_text(p.get("message")),
                     timestamp=ts)

    def item(self, p: dict, ts: str | None, line_no: int, rid: str | None) -> None:
        t = p.get("type")
        if t == "message":
            self.message(p, ts, line_no, rid)
        elif t == "reasoning":
            text = "\n".join(as_text(s) for s in (p.get("summary") or []) if as_text(s))
            if not text:
                text = "\n".join(as_text(c) for c in (p.get("content") or []) if as_text(c))
            if text:
                self.add(line_no, rid, role="assistant", kind=Kind.THINKING, text=text, timestamp=ts, model=self.model)
        elif t in CALL_TYPES:
            self.call(p, ts, line_no, rid)
        elif t in OUTPUT_TYPES:
            self.output(p, ts, line_no, rid)
        else:
            key = f"response_item/{t}"
            self.res.unknown_types[key] = self.res.unknown_types.get(key, 0) + 1

    def message(self, p: dict, ts: str | None, line_no: int, rid: str | None) -> None:
        role = p.get("role")
        blocks = p.get("content") if isinstance(p.get("content"), list) else []
        text = as_text(p.get("content"))
        images = sum(1 for b in blocks if isinstance(b, dict) and b.get("type") == "input_image")
        extra = {"images": images} if images else None
        if role == "user":
            t = text.lstrip()
            if t.startswith(_SHELL_PREFIX):
                kind = Kind.COMMAND
            elif t.startswith(_INJECTED_PREFIXES):
                kind = Kind.META
            elif not t:
                kind = Kind.IMAGE if images else Kind.OTHER
            else:
                kind = Kind.HUMAN_PROMPT
            self.add(line_no, rid, role="user", kind=kind, text=text, timestamp=ts, is_human=kind == Kind.HUMAN_PROMPT,
                     extra=extra)
        elif role == "assistant":
            self.add(line_no, rid, role="assistant", kind=Kind.ASSISTANT_TEXT, text=text, timestamp=ts,
                     model=self.model, extra=extra)
        else:  # developer / system instructions
            self.add(line_no, rid, role="system", kind=Kind.SYSTEM, text=text, timestamp=ts)

    def call(self, p: dict, ts: str | None, line_no: int, rid: str | None) -> None:
        t = p["type"]
        name = str_or_none(p.get("name")) or {"local_shell_call": "shell", "web_search_call": "web_search"}.get(t, t)
        args: Any = p.get("arguments") if "arguments" in p else p.get("input")
        if isinstance(args, str):
            try:
                args = orjson.loads(args)
            except orjson.JSONDecodeError:
                pass  # custom tools (apply_patch) take free text
        if t in ("local_shell_call", "web_search_call"):
            args = p.get("action")
        call_id = str_or_none(p.get("call_id")) or rid or f"{self.sid}:{line_no}"
        self.add(line_no, rid, role="assistant", kind=Kind.TOOL_CALL, text=tool_summary(name, args), timestamp=ts,
                 model=self.model, tool_name=name, tool_use_id=call_id)
        self.res.tool_calls.append(ToolCall(tool_use_id=call_id, session_id=self.sid or self.path.stem,
                                            call_msg_id=self.res.messages[-1].msg_id, name=name, input=args))

    def output(self, p: dict, ts: str | None, line_no: int, rid: str | None) -> None:
        out = p.get("output")
        is_error = False
        if isinstance(out, str):
            try:  # older rollouts wrap the output as a JSON string {output, metadata{exit_code}}
                parsed = orjson.loads(out)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict) and "output" in parsed:
                out = parsed
        if isinstance(out, dict):
            meta = out.get("metadata") if isinstance(out.get("metadata"), dict) else {}
            is_error = out.get("success") is False or meta.get("exit_code") not in (None, 0)
            text = as_text(out.get("output") if "output" in out else out.get("content"))
        else:
            text = as_text(out)
        kind = Kind.TOOL_REJECTION if text.lstrip().startswith(_REJECT_PREFIXES) else Kind.TOOL_RESULT
        call_id = str_or_none(p.get("call_id"))
        self.add(line_no, rid, role="tool", kind=kind, text=text, timestamp=ts, tool_use_id=call_id,
                 is_error=is_error or kind == Kind.TOOL_REJECTION)
        if call_id:
            self.res.tool_calls.append(ToolCall(tool_use_id=call_id, session_id=self.sid or self.path.stem,
                                                result_msg_id=self.res.messages[-1].msg_id, result_text=text[:RESULT_TEXT_CHARS],
                                                is_error=is_error))
