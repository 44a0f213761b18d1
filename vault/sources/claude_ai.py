"""Claude.ai data export: `conversations.json` and `projects.json` (also inside the export `.zip`).

A conversation is `{uuid, name, created_at, account{uuid}, chat_messages[...]}`; each chat
message `{uuid, sender: human|assistant, text, content[blocks], created_at, attachments,
files}`. Export versions drift: older ones have only `text`, newer ones `content` blocks
(text, thinking, tool_use, tool_result), some a `parent_message_uuid` tree. Every shape is
read; what is missing is left empty.

One conversation saved alone (the claude.ai web API's `chat_conversations/<uuid>` response, as
viewer tools and browser extensions save it: a top-level `{uuid, chat_messages, ...}` object, no
`account`) is read as an export list of that one conversation: item 1, kept raw whole.

msg_id = the chat message uuid for its text; its other blocks are "<uuid>:<kind>:<i>"
(thinking, tool, result) and uploaded files' extracted text "<uuid>:attachment:<i>".
Session id = the conversation uuid; `user_id` = the account uuid. Projects (`projects.json`:
docs and prompt templates) are kept raw and name the conversations that belong to them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from vault.model import Kind, LineError, Message, ParseResult, RawRecord, ToolCall
from vault.sources.base import (
    RESULT_TEXT_CHARS,
    Head,
    Parser,
    as_text,
    json_dumps,
    timestamp,
    tool_summary,
)
from vault.sources.documents import (
    document_head,
    document_items,
    json_array_with_key,
    json_object_with_keys,
    main_branch,
    read_companion,
    str_or_none,
    text_of,
)

SOURCE = "claude_ai"
CONVERSATIONS = re.compile(r"conversations\.json")
ANY_MEMBER = re.compile(r"(conversations|projects)\.json")
ROOT_PARENT = "00000000-0000-4000-8000-000000000000"  # the parent of a conversation's first message


class ClaudeAiParser(Parser):
    name = SOURCE
    incremental = False
    suffixes = (".json", ".zip")

    def detect(self, path: Path, head: Head) -> bool:
        doc = document_head(path, head.data, CONVERSATIONS)
        if json_array_with_key(doc, "chat_messages") or json_object_with_keys(doc, ("uuid", "chat_messages")):
            return True
        return path.suffix.lower() == ".json" and json_array_with_key(doc, "prompt_template")

    def why_not(self, path: Path, head: Head) -> str | None:
        if path.name == "users.json" and json_array_with_key(head.data, "email_address"):
            return "a Claude.ai export companion file: users.json holds account data, no conversations"
        return None

    def parse(self, path: Path, start_offset: int = 0, start_line: int = 0) -> ParseResult:
        res = ParseResult()
        projects = _project_names(read_companion(path, "projects.json", res))
        for name, item, obj in document_items(path, ANY_MEMBER, res, "a JSON array or one conversation",
                                              single=_one_conversation):
            if isinstance(obj, dict) and isinstance(obj.get("chat_messages"), list):
                try:
                    _conversation(res, obj, item, projects)
                except (TypeError, AttributeError, ValueError, KeyError) as e:
                    res.errors.append(LineError(item, f"{name}: unexpected conversation shape: {e}", "item"))
            elif isinstance(obj, dict) and ("prompt_template" in obj or "docs" in obj):
                pid = str_or_none(obj.get("uuid"))
                res.raw.append(RawRecord(item, None, "project", pid, None, json_dumps(obj)))
            else:
                res.errors.append(LineError(item, f"{name}: neither a conversation (no 'chat_messages' list) "
                                                  "nor a project", "item"))
        return res


def _one_conversation(doc: dict) -> bool:
    """A whole document that is one conversation: read as the only item of an export list (a damaged one,
    e.g. `chat_messages` not a list, is then reported as that item is)."""
    return "chat_messages" in doc


def _project_names(rows: Any) -> dict[str, str]:
    return {r["uuid"]: r["name"] for r in rows if isinstance(r, dict) and isinstance(r.get("uuid"), str)
            and isinstance(r.get("name"), str)} if isinstance(rows, list) else {}


def _conversation(res: ParseResult, conv: dict, item: int, projects: dict[str, str]) -> None:
    cid = str_or_none(conv.get("uuid")) or str_or_none(conv.get("id")) or f"claude_ai-{item}"
    res.raw.append(RawRecord(item, None, "conversation", cid, cid, json_dumps(conv)))
    sess = res.session(cid, SOURCE)
    sess.title = str_or_none(conv.get("name")) or str_or_none(conv.get("summary"))
    sess.started_at = timestamp(conv.get("created_at"))
    account = conv.get("account") if isinstance(conv.get("account"), dict) else {}
    sess.user_id = str_or_none(account.get("uuid"))
    project = conv.get("project") if isinstance(conv.get("project"), dict) else {}
    pid = str_or_none(conv.get("project_uuid")) or str_or_none(project.get("uuid"))
    sess.project = str_or_none(project.get("name")) or (projects.get(pid) if pid else None)
    sess.model = str_or_none(conv.get("model"))

    msgs = [m for m in conv["chat_messages"] if isinstance(m, dict) and str_or_none(m.get("uuid"))]
    # Newer exports chain messages by parent_message_uuid; older ones are a plain list.
    parent: dict[str, str | None] = {}
    prev = None
    for m in msgs:
        p = str_or_none(m.get("parent_message_uuid"))
        parent[m["uuid"]] = (None if p == ROOT_PARENT else p) if "parent_message_uuid" in m else prev
        prev = m["uuid"]
    tip = str_or_none(conv.get("current_leaf_message_uuid"))
    main = main_branch(parent, tip if tip in parent else prev)
    sub = 0
    for m in msgs:
        sub = _chat_message(res, m, cid, item, sub, parent[m["uuid"]], m["uuid"] in main)


def _chat_message(res: ParseResult, m: dict, cid: str, item: int, sub: int, parent_id: str | None,
                  on_main: bool) -> int:
    """Append the vault messages of one chat message; returns the next free `sub`."""
    uuid = m["uuid"]
    human = m.get("sender") == "human" or m.get("role") in ("user", "human")
    role = "user" if human else ("assistant" if m.get("sender") in ("assistant", None) else "system")
    ts = timestamp(m.get("created_at"))
    base = dict(session_id=cid, timestamp=ts, line_no=item, on_main_branch=on_main)
    out: list[Message] = []
    texts: list[str] = []
    blocks = m.get("content") if isinstance(m.get("content"), list) else []
    text_sub = None
    for i, b in enumerate(blocks):
        if not isinstance(b, dict):
            continue
        bt = b.get("type")
        if bt == "text" or (bt is None and isinstance(b.get("text"), str)):
            texts.append(text_of(b.get("text")))
            text_sub = len(out) if text_sub is None else text_sub
        elif bt in ("thinking", "redacted_thinking"):
            out.append(Message(msg_id=f"{uuid}:thinking:{i}", role="assistant", kind=Kind.THINKING,
                               text=text_of(b.get("thinking")), **base))
        elif bt in ("tool_use", "server_tool_use"):
            name = str_or_none(b.get("name")) or "tool"
            tid = str_or_none(b.get("id")) or f"{uuid}:tool:{i}"
            out.append(Message(msg_id=f"{uuid}:tool:{i}", role="assistant", kind=Kind.TOOL_CALL,
                               text=tool_summary(name, b.get("input")), tool_name=name, tool_use_id=tid, **base))
            res.tool_calls.append(ToolCall(tool_use_id=tid, session_id=cid, call_msg_id=out[-1].msg_id, name=name,
                                           input=b.get("input")))
        elif bt in ("tool_result", "web_search_tool_result"):
            tid = str_or_none(b.get("tool_use_id"))
            body = as_text(b.get("content"))
            out.append(Message(msg_id=f"{uuid}:result:{i}", role="tool", kind=Kind.TOOL_RESULT, text=body,
                               tool_name=str_or_none(b.get("name")), tool_use_id=tid,
                               is_error=bool(b.get("is_error")), **base))
            if tid:
                res.tool_calls.append(ToolCall(tool_use_id=tid, session_id=cid, result_msg_id=out[-1].msg_id,
                                               result_text=body[:RESULT_TEXT_CHARS], is_error=bool(b.get("is_error"))))
    text = "\n".join(t for t in texts if t) or text_of(m.get("text"))
    atts = [a for a in m.get("attachments") or [] if isinstance(a, dict)]
    files = [f for f in m.get("files") or m.get("files_v2") or [] if isinstance(f, dict)]
    extra: dict[str, Any] = {}
    if atts:
        extra["attachments"] = [{k: a.get(k) for k in ("file_name", "file_type", "file_size")} for a in atts]
    if files:
        extra["files"] = [f.get("file_name") for f in files]
    if human:
        kind = Kind.HUMAN_PROMPT if text.strip() else (Kind.IMAGE if files else Kind.OTHER)
    else:
        kind = Kind.ASSISTANT_TEXT if role == "assistant" else Kind.SYSTEM
    if text or human or not out:
        main_msg = Message(msg_id=uuid, role=role, kind=kind, text=text, is_human=kind == Kind.HUMAN_PROMPT,
                           parent_id=parent_id, extra=extra or None, **base)
        out.insert(text_sub if text_sub is not None else len(out), main_msg)
    for i, a in enumerate(atts):
        content = text_of(a.get("extracted_content"))
        if content:  # an uploaded or pasted file: its text, not typed here
            out.append(Message(msg_id=f"{uuid}:attachment:{i}", role="user", kind=Kind.META, text=content,
                               extra={"file_name": a.get("file_name")}, **base))
    for msg in out:
        msg.sub = sub
        sub += 1
        if msg.parent_id is None and msg.msg_id != uuid:
            msg.parent_id = uuid if any(o.msg_id == uuid for o in out) else parent_id
    res.messages.extend(out)
    return sub
