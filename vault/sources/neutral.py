"""Neutral conversation JSONL: one conversation per line.

Accepted shapes (see CONTRACTS.md): `{"id", "messages": [{"role", "content"}]}` (OpenAI
style), ShareGPT `{"conversations": [{"from", "value"}]}`, and WildChat / LMSYS rows
(`conversation_hash` or `conversation_id`, `conversation`, `hashed_ip` as the user id).
msg_id = "<conversation id>#<index in the list>".

Tool use, OpenAI style: an assistant message's `tool_calls` (or legacy `function_call`) are tool
calls, each its own message: the first message made from list item i is "<id>#<i>" (the text, or
the first call when there is none), a further call j is "<id>#<i>:tool:<j>". A `role: "tool"`
message (or legacy `function`) is the result of the call named by its `tool_call_id`, else of the
oldest unanswered one; both meet in `tool_calls`, whose id is "<id>:<call id>" (datasets reuse
call ids such as "call_1" across conversations), or the call's msg_id when it has no id. A `tool`
message that answers no call is a console transcript's tool line (the call with its output
inline): a tool call, as before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from vault.model import Kind, LineError, Message, ParseResult, RawRecord, ToolCall
from vault.sources.base import RESULT_TEXT_CHARS, Head, Parser, as_text, iter_jsonl, timestamp, tool_summary
from vault.sources.documents import str_or_none
from vault.sources.markers import (
    CONSOLE_INTERRUPT_MARKERS,
    CONSOLE_REJECT_MARKERS,
    classify_user_text,
    rejection_reason,
)

SOURCE = "neutral"

_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "bot": "assistant",
         "chatgpt": "assistant", "model": "assistant", "bard": "assistant", "bing": "assistant", "claude": "assistant",
         "system": "system", "tool": "tool", "function": "tool", "observation": "tool", "ipython": "tool",
         "function_call": "assistant"}
# Per-message fields of WildChat / LMSYS rows worth keeping (small): moderation flags and language.
_MESSAGE_EXTRA = ("language", "toxic", "redacted", "turn_identifier", "country", "state")

ID_KEYS = ("id", "conversation_hash", "conversation_id")
LIST_KEYS = ("messages", "conversation", "conversations")


def conversation_id(row: dict[str, Any], raw: str) -> str:
    for k in ID_KEYS:
        v = row.get(k)
        if isinstance(v, (str, int)) and str(v):
            return str(v)
    return "conv-" + hashlib.sha1(raw.encode()).hexdigest()[:16]


def user_kind(text: str) -> tuple[str, bool, dict | None]:
    """(kind, is_human, extra) of a user-role message in a neutral conversation."""
    t = text.strip()
    if t.startswith(CONSOLE_INTERRUPT_MARKERS):
        return Kind.INTERRUPT, False, None
    if t.startswith(CONSOLE_REJECT_MARKERS):
        reason = rejection_reason(t)
        return Kind.TOOL_REJECTION, bool(reason), ({"reason": reason} if reason else None)
    if t.startswith("/") and " " not in t.split("\n", 1)[0][:40].strip() or t.startswith(("/compact", "/export")):
        return Kind.COMMAND, False, None
    kind = classify_user_text(text)
    return kind, kind == Kind.HUMAN_PROMPT and bool(t), None


# File names that say what the file holds, not whose it is: two people's `sessions.jsonl` are two projects (the
# folder each lies in), never one role and one persona for both.
FORMAT_STEMS = frozenset({"chat", "chats", "conversation", "conversations", "data", "dialogues", "export", "history",
                          "log", "logs", "messages", "session", "sessions", "transcript", "transcripts"})


def project_of(path: Path) -> str:
    """A file's project when its records name no source: its name, or its folder's when the name is generic."""
    if path.stem.lower() in FORMAT_STEMS and path.parent.name:
        return path.parent.name
    return path.stem


class NeutralParser(Parser):
    name = SOURCE
    incremental = True
    suffixes = (".jsonl", ".json")

    def detect(self, path: Path, head: Head) -> bool:
        obj = head.first_record()
        return isinstance(obj, dict) and any(isinstance(obj.get(k), list) for k in LIST_KEYS)

    def parse(self, path: Path, start_offset: int = 0, start_line: int = 0) -> ParseResult:
        res = ParseResult()
        for line_no, offset, row, raw in iter_jsonl(path, res, start_offset, start_line):
            cid = conversation_id(row, raw)
            res.raw.append(RawRecord(line_no, offset, "conversation", cid, cid, raw))
            msgs = next((row[k] for k in LIST_KEYS if isinstance(row.get(k), list)), None)
            if msgs is None:
                res.errors.append(LineError(line_no, "no 'messages', 'conversation' or 'conversations' list"))
                continue
            sess = res.session(cid, SOURCE)
            src = row.get("source")
            sess.project = str(src).split(":")[0] if src else project_of(path)
            sess.title = row.get("title") if isinstance(row.get("title"), str) else None
            # WildChat's hashed_ip is the only user identity these datasets carry: personas are built per user from it.
            uid = row.get("hashed_ip") or row.get("user_id") or row.get("user")
            sess.user_id = str(uid) if isinstance(uid, (str, int)) and uid != "" else None
            sess.model = row.get("model") if isinstance(row.get("model"), str) else None
            ts_row = timestamp(row.get("timestamp"))
            sess.started_at = ts_row
            prev_expands = False
            calls = _Calls(cid, res)
            for i, m in enumerate(msgs):
                if not isinstance(m, dict):
                    res.errors.append(LineError(line_no, f"message {i} is not an object"))
                    continue
                raw_role = str(m.get("role") or m.get("from") or "").lower()
                role = _ROLE.get(raw_role, "user" if not raw_role else "other")
                text = as_text(m.get("content") if "content" in m else m.get("value"))
                ts = timestamp(m.get("timestamp")) or ts_row
                extra = None
                if role == "other":  # a speaker we do not know is never counted as a person typing
                    role, kind, human, extra = "system", Kind.OTHER, False, {"role": raw_role}
                elif raw_role == "function_call":
                    kind, human = Kind.TOOL_CALL, False
                elif raw_role in ("observation", "function", "ipython") or raw_role == "tool" and calls.answers(m):
                    kind, human = Kind.TOOL_RESULT, False
                elif role == "user":
                    kind, human, extra = user_kind(text)
                    if prev_expands and kind == Kind.HUMAN_PROMPT:
                        kind, human = Kind.META, False  # the expansion of the custom command just above
                elif role == "assistant":
                    kind, human = Kind.ASSISTANT_TEXT, False
                elif role == "tool":  # answers no call: a console transcript's tool line, the call with its output
                    kind, human = Kind.TOOL_CALL, False
                else:
                    kind, human = Kind.SYSTEM, False
                kept = {k: m[k] for k in _MESSAGE_EXTRA if m.get(k) not in (None, "", [], {})}
                if kept:
                    extra = {**(extra or {}), **kept}
                msg = Message(msg_id=f"{cid}#{i}", session_id=cid, role=role, kind=kind,
                              text=(extra or {}).get("reason") or text, timestamp=ts,
                              model=m.get("model") if isinstance(m.get("model"), str) else None,
                              is_human=human, line_no=line_no, sub=i, extra=extra,
                              parent_id=f"{cid}#{i - 1}" if i else None)
                requested = _requested_calls(m) if role == "assistant" else []
                if text.strip() or not requested:
                    res.messages.append(msg)
                if raw_role == "function_call":  # ShareGPT turn: the call is its text
                    calls.call(msg, None, *_name_and_args(text))
                elif kind == Kind.TOOL_RESULT:
                    calls.result(msg, m)
                for j, (call_id, name, args) in enumerate(requested):
                    first = j == 0 and not text.strip()
                    call = Message(msg_id=msg.msg_id if first else f"{cid}#{i}:tool:{j}", session_id=cid,
                                   role="assistant", kind=Kind.TOOL_CALL, text=tool_summary(name, args),
                                   timestamp=ts, model=msg.model, line_no=line_no, sub=i,
                                   parent_id=msg.parent_id if first else msg.msg_id)
                    res.messages.append(call)
                    calls.call(call, call_id, name, args)
                # A `<command-message>` wrapper is followed by its expanded body; a console
                # command (`/cost`, `/export`) carries its output inline, so the next message is typed.
                prev_expands = kind == Kind.COMMAND and text.lstrip().startswith("<command-")
        return res


def _requested_calls(m: dict) -> list[tuple[str | None, str, Any]]:
    """(call id, name, arguments) of an assistant message's `tool_calls` and legacy `function_call`."""
    specs = [c for c in m.get("tool_calls") or [] if isinstance(c, dict)]
    if isinstance(m.get("function_call"), dict):
        specs.append({"function": m["function_call"]})
    out = []
    for c in specs:
        fn = c.get("function") if isinstance(c.get("function"), dict) else c
        out.append((str_or_none(c.get("id")), str_or_none(fn.get("name")) or "tool", _arguments(fn.get("arguments"))))
    return out


def _arguments(value: Any) -> Any:
    """Arguments as sent (OpenAI sends a JSON string): parsed when they parse."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _name_and_args(text: str) -> tuple[str, Any]:
    obj = _arguments(text)
    if isinstance(obj, dict):
        return str_or_none(obj.get("name")) or "tool", _arguments(obj.get("arguments"))
    return "tool", obj


class _Calls:
    """The tool calls of one conversation, so that each result meets its call."""

    def __init__(self, cid: str, res: ParseResult):
        self.cid, self.res = cid, res
        self.open: list[str] = []  # unanswered call ids, oldest first

    def answers(self, m: dict) -> bool:
        """Whether a `tool` message is a result: it names its call, or a call is waiting for one."""
        return bool(str_or_none(m.get("tool_call_id")) or self.open)

    def call(self, msg: Message, call_id: str | None, name: str, args: Any) -> None:
        tid = f"{self.cid}:{call_id}" if call_id else msg.msg_id  # a call without an id is named by its message
        msg.tool_name, msg.tool_use_id = name, tid
        self.open.append(tid)
        self.res.tool_calls.append(ToolCall(tool_use_id=tid, session_id=self.cid, call_msg_id=msg.msg_id, name=name,
                                            input=args))

    def result(self, msg: Message, m: dict) -> None:
        named = str_or_none(m.get("tool_call_id"))
        tid = f"{self.cid}:{named}" if named else (self.open[0] if self.open else None)
        msg.tool_name = str_or_none(m.get("name"))
        if tid is None:
            return
        if tid in self.open:
            self.open.remove(tid)
        msg.tool_use_id = tid
        self.res.tool_calls.append(ToolCall(tool_use_id=tid, session_id=self.cid, result_msg_id=msg.msg_id,
                                            result_text=msg.text[:RESULT_TEXT_CHARS]))
