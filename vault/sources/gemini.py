"""Gemini CLI sessions: `~/.gemini/tmp/<project>/chats/session-<time>-<id8>.jsonl` (and legacy `.json`).

JSONL: a metadata line `{sessionId, projectHash, startTime, kind}`, then message records
`{id, timestamp, type: user|gemini|info|error|warning, content, displayContent, thoughts,
tokens, model, toolCalls[{id, name, args, result, status}]}` re-appended whenever a message
is updated (same id: the last one wins), `{"$set": {...}}` metadata updates and
`{"$rewindTo": id}` rewinds (that message and every later one are dropped from the
conversation). Rewound messages are kept with `on_main_branch` false and `extra.rewound`.
Subagent sessions live in `chats/<parent session id>/<session id>.jsonl`. Older versions
wrote the whole conversation as one `.json` document.

msg_id = the message id for its text; thoughts are "<id>:thoughts", tool calls
"<id>:call:<call id>" and their results "<id>:result:<call id>". Session id = `sessionId`.
Updates rewrite earlier lines' meaning, so files are re-read whole when they change.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from vault.model import Kind, LineError, Message, ParseResult, RawRecord, ToolCall
from vault.sources.base import RESULT_TEXT_CHARS, Head, Parser, iter_jsonl, json_dumps, timestamp, tool_summary
from vault.sources.documents import parse_document, str_or_none, text_of

SOURCE = "gemini"
_ANY = re.compile(r".*")


def _is_metadata(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("sessionId"), str) and isinstance(obj.get("projectHash"), str)


class GeminiParser(Parser):
    name = SOURCE
    incremental = False
    suffixes = (".jsonl", ".json")

    def detect(self, path: Path, head: Head) -> bool:
        if path.suffix.lower() == ".json":
            body = head.data.lstrip(b"\xef\xbb\xbf \t\r\n")
            has = {k: re.search(rb'"' + k + rb'"\s*:', body) is not None for k in (b"sessionId", b"projectHash", b"messages")}
            return body.startswith(b"{") and has[b"sessionId"] and (has[b"projectHash"] or has[b"messages"])
        obj = head.first_record()
        return _is_metadata(obj) and "type" not in obj

    def why_not(self, path: Path, head: Head) -> str | None:
        if path.name == "logs.json" and b'"sessionId"' in head.data:
            return "Gemini CLI prompt log (logs.json): typed prompts only; the chats/ folder holds the sessions"
        if path.name.startswith("checkpoint") and path.parent.parent.name == "tmp":
            return "Gemini CLI /chat save checkpoint: API history without ids or times, not ingested"
        return None

    def parse(self, path: Path, start_offset: int = 0, start_line: int = 0) -> ParseResult:
        res = ParseResult()
        conv = _Conversation(path)
        if path.suffix.lower() == ".json":
            for _name, doc in parse_document(path, _ANY, res):
                if not _is_metadata(doc) or not isinstance(doc.get("messages"), list):
                    res.errors.append(LineError(0, "not a Gemini CLI session: no sessionId, projectHash and messages"))
                    break
                conv.meta.update({k: v for k, v in doc.items() if k != "messages"})
                res.raw.append(RawRecord(1, None, "metadata", doc["sessionId"], doc["sessionId"],
                                         json_dumps({k: v for k, v in doc.items() if k != "messages"})))
                for i, m in enumerate(doc["messages"], start=2):
                    if isinstance(m, dict) and isinstance(m.get("id"), str):
                        res.raw.append(RawRecord(i, None, str_or_none(m.get("type")), m["id"], doc["sessionId"],
                                                 json_dumps(m)))
                        conv.put(m, i)
                    else:
                        res.errors.append(LineError(i - 1, "no string 'id'", "message"))  # messages from 1
        else:
            for line_no, offset, rec, raw in iter_jsonl(path, res, start_offset, start_line):
                rtype, rid = conv.apply(rec, line_no)
                if rtype is None:
                    res.unknown_types["<no type>"] = res.unknown_types.get("<no type>", 0) + 1
                res.raw.append(RawRecord(line_no, offset, rtype, rid, str_or_none(conv.meta.get("sessionId")), raw))
        conv.emit(res)
        return res


class _Conversation:
    """The state a session file describes once replayed: metadata, live messages, rewound ones."""

    def __init__(self, path: Path):
        self.path = path
        self.meta: dict[str, Any] = {}
        self.live: dict[str, tuple[dict, int]] = {}  # id -> (last record, line of first appearance)
        self.rewound: dict[str, tuple[dict, int]] = {}

    def put(self, m: dict, line_no: int) -> None:
        first = self.live.get(m["id"], (None, line_no))[1]
        self.rewound.pop(m["id"], None)
        self.live[m["id"]] = (m, first)

    def apply(self, rec: dict, line_no: int) -> tuple[str | None, str | None]:
        """Replay one JSONL record; returns (record type, record id) for the raw layer."""
        if isinstance(rec.get("$rewindTo"), str):
            target = rec["$rewindTo"]
            ids = list(self.live)
            cut = ids.index(target) if target in ids else 0
            for mid in ids[cut:]:
                self.rewound[mid] = self.live.pop(mid)
            return "$rewindTo", target
        if isinstance(rec.get("$set"), dict):
            upd = rec["$set"]
            for m in upd.get("messages") or []:  # a history sync re-states messages: merge, never drop
                if isinstance(m, dict) and isinstance(m.get("id"), str):
                    self.put(m, line_no)
            self.meta.update({k: v for k, v in upd.items() if k != "messages"})
            return "$set", None
        if isinstance(rec.get("id"), str):
            self.put(rec, line_no)
            return str_or_none(rec.get("type")) or "message", rec["id"]
        if _is_metadata(rec):
            self.meta.update(rec)
            return "metadata", rec["sessionId"]
        return None, None

    def emit(self, res: ParseResult) -> None:
        sid = str_or_none(self.meta.get("sessionId"))
        if sid is None:
            if self.live or self.rewound:
                res.errors.append(LineError(0, "no metadata line with a sessionId: messages not attributed"))
            return
        sess = res.session(sid, SOURCE)
        dirs = self.meta.get("directories")
        cwd = dirs[0] if isinstance(dirs, list) and dirs and isinstance(dirs[0], str) else None
        chats = self.path.parent
        if chats.name != "chats" and chats.parent.name == "chats":  # chats/<parent session>/<session>.jsonl
            sess.parent_session_id = chats.name
            sess.agent_type = "subagent"
            chats = chats.parent
        sess.cwd = cwd
        sess.project = Path(cwd).name if cwd else (chats.parent.name if chats.name == "chats" else None)
        sess.title = str_or_none(self.meta.get("summary"))
        sess.started_at = timestamp(self.meta.get("startTime"))
        entries = [(m, line, True) for m, line in self.live.values()]
        entries += [(m, line, False) for m, line in self.rewound.values()]
        entries.sort(key=lambda e: e[1])
        for m, line, live in entries:
            for msg in _messages(m, sid, line, res):
                msg.on_main_branch = live
                if not live:
                    msg.extra = {**(msg.extra or {}), "rewound": True}
                if msg.model:
                    sess.model = msg.model
                res.messages.append(msg)


def _parts_text(content: Any) -> str:
    """Text of a Gemini PartListUnion: a string, a part, or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return text_of(content.get("text"))
    if isinstance(content, list):
        return "".join(_parts_text(p) for p in content)
    return ""


def _result_text(result: Any) -> str:
    """Text of a tool result: functionResponse outputs, or plain parts."""
    out = []
    for part in result if isinstance(result, list) else [result]:
        fr = part.get("functionResponse") if isinstance(part, dict) else None
        if isinstance(fr, dict):
            resp = fr.get("response")
            if isinstance(resp, dict):
                val = resp.get("output", resp.get("error", resp))
                out.append(val if isinstance(val, str) else orjson.dumps(val).decode())
        else:
            out.append(_parts_text(part))
    return "\n".join(t for t in out if t)


def _messages(m: dict, sid: str, line: int, res: ParseResult) -> list[Message]:
    mid, mtype = m["id"], m.get("type")
    ts = timestamp(m.get("timestamp"))
    model = str_or_none(m.get("model"))
    base = dict(session_id=sid, timestamp=ts, line_no=line)
    if mtype == "user":
        text = _parts_text(m["displayContent"]) if m.get("displayContent") else _parts_text(m.get("content"))
        kind = Kind.COMMAND if text.lstrip().startswith("/") else (Kind.HUMAN_PROMPT if text.strip() else Kind.OTHER)
        return [Message(msg_id=mid, role="user", kind=kind, text=text, is_human=kind == Kind.HUMAN_PROMPT, **base)]
    if mtype != "gemini":
        text = _parts_text(m.get("content"))
        kind = {"error": Kind.API_ERROR}.get(mtype, Kind.SYSTEM)
        if mtype == "info" and "cancel" in text.lower():
            kind = Kind.INTERRUPT  # "Request cancelled.": a person pressed Esc
        return [Message(msg_id=mid, role="system", kind=kind, text=text, extra={"type": mtype}, **base)]
    out: list[Message] = []
    thoughts = [t for t in m.get("thoughts") or [] if isinstance(t, dict)]
    if thoughts:
        text = "\n\n".join(f"{text_of(t.get('subject'))}: {text_of(t.get('description'))}".strip(": ")
                           for t in thoughts)
        out.append(Message(msg_id=f"{mid}:thoughts", role="assistant", kind=Kind.THINKING, text=text, model=model,
                           **base))
    text = _parts_text(m.get("content"))
    if text:
        tokens = m.get("tokens") if isinstance(m.get("tokens"), dict) else None
        out.append(Message(msg_id=mid, role="assistant", kind=Kind.ASSISTANT_TEXT, text=text, model=model,
                           extra={"usage": tokens} if tokens else None, **base))
    for tc in m.get("toolCalls") or []:
        if not isinstance(tc, dict):
            continue
        tid = str_or_none(tc.get("id")) or f"{mid}:{len(out)}"
        name = str_or_none(tc.get("name")) or "tool"
        out.append(Message(msg_id=f"{mid}:call:{tid}", role="assistant", kind=Kind.TOOL_CALL,
                           text=tool_summary(name, tc.get("args")), model=model, tool_name=name, tool_use_id=tid,
                           **{**base, "timestamp": timestamp(tc.get("timestamp")) or ts}))
        status = tc.get("status")
        result = _result_text(tc.get("result"))
        res.tool_calls.append(ToolCall(tool_use_id=tid, session_id=sid, call_msg_id=out[-1].msg_id, name=name,
                                       input=tc.get("args")))
        if tc.get("result") is None and status in (None, "executing", "scheduled", "validating"):
            continue
        kind = Kind.TOOL_REJECTION if status == "cancelled" else Kind.TOOL_RESULT
        out.append(Message(msg_id=f"{mid}:result:{tid}", role="tool", kind=kind, text=result, tool_name=name,
                           tool_use_id=tid, is_error=status in ("error", "cancelled"),
                           extra={"status": status} if status else None,
                           **{**base, "timestamp": timestamp(tc.get("timestamp")) or ts}))
        res.tool_calls[-1].result_msg_id = out[-1].msg_id
        res.tool_calls[-1].result_text = result[:RESULT_TEXT_CHARS]
        res.tool_calls[-1].is_error = status == "error"
    for i, msg in enumerate(out):
        msg.sub = i
    return out
