"""ChatGPT data export: `conversations.json` (or `conversations-NNN.json` shards), also read inside the export `.zip`;
also one conversation saved alone (a top-level `{title, create_time, mapping, current_node, ...}` object, an export's
element on its own), read as that element.

Each conversation is a tree (`mapping`: node id -> {message, parent, children}); the
branch a person kept is the path from `current_node` to the root. Every other branch
(a regenerated answer, an edited prompt) is stored too, with `on_main_branch` false and
`extra.branch` = "regeneration" | "edit" plus `extra.sibling_of` = the kept sibling: the
kept answer and its siblings are natural chosen/rejected material. `message_feedback.json`
(thumbs up/down, beside the file or in the zip) lands in the rated message's
`extra.feedback` ("up" | "down", with `feedback_tags` / `feedback_text`).

msg_id = the mapping node id (= the message id); session id = the conversation id.
One raw record per conversation. A whole document: re-read when it changes.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import orjson

from vault.model import Kind, LineError, Message, ParseResult, RawRecord, ToolCall
from vault.sources.base import RESULT_TEXT_CHARS, Head, Parser, json_dumps, timestamp
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

SOURCE = "chatgpt"
MEMBER = re.compile(r"conversations(-\d+)?\.json")
COMPANIONS = ("message_feedback.json", "model_comparisons.json", "shared_conversations.json", "user.json",
              "user_settings.json", "export_manifest.json", "library_files.json")
_RATING = {"thumbsup": "up", "thumbs_up": "up", "up": "up", "thumbsdown": "down", "thumbs_down": "down", "down": "down"}


class ChatGPTParser(Parser):
    name = SOURCE
    incremental = False
    suffixes = (".json", ".zip")

    def detect(self, path: Path, head: Head) -> bool:
        doc = document_head(path, head.data, MEMBER)
        return json_array_with_key(doc, "mapping") or json_object_with_keys(doc, ("create_time", "mapping"))

    def why_not(self, path: Path, head: Head) -> str | None:
        if path.name in COMPANIONS:
            return f"a ChatGPT export companion file: {path.name} is read together with conversations.json"
        return None

    def parse(self, path: Path, start_offset: int = 0, start_line: int = 0) -> ParseResult:
        res = ParseResult()
        feedback = _feedback(read_companion(path, "message_feedback.json", res))
        for name, item, conv in document_items(path, MEMBER, res, "a JSON array of conversations or one conversation",
                                               single=_one_conversation):
            if not isinstance(conv, dict) or not isinstance(conv.get("mapping"), dict):
                res.errors.append(LineError(item, f"{name}: no 'mapping' object", "conversation"))
                continue
            try:
                _conversation(res, conv, item, feedback)
            except (TypeError, AttributeError, ValueError, KeyError) as e:
                res.errors.append(LineError(item, f"{name}: unexpected conversation shape: {e}", "conversation"))
        return res


def _one_conversation(doc: dict) -> bool:
    """A whole document that is one conversation: read as the only item of an export list (a damaged one,
    e.g. `mapping` not an object, is then reported as that item is)."""
    return "mapping" in doc


def _feedback(rows: Any) -> dict[str, dict]:
    """message id -> {"feedback": "up"|"down", "feedback_tags", "feedback_text"} from message_feedback.json."""
    out: dict[str, dict] = {}
    for r in rows if isinstance(rows, list) else []:
        if not isinstance(r, dict):
            continue
        mid = str_or_none(r.get("message_id")) or str_or_none(r.get("id"))
        rating = _RATING.get(str(r.get("rating") or "").lower())
        if not mid or not rating:
            continue
        fb: dict[str, Any] = {"feedback": rating}
        content = r.get("content")
        if isinstance(content, str):
            try:
                content = orjson.loads(content)
            except orjson.JSONDecodeError:
                content = {"text": content}
        if isinstance(content, dict):
            if content.get("tags"):
                fb["feedback_tags"] = content["tags"]
            if isinstance(content.get("text"), str) and content["text"]:
                fb["feedback_text"] = content["text"]
        out[mid] = fb
    return out


def _conversation(res: ParseResult, conv: dict, item: int, feedback: dict[str, dict]) -> None:
    raw = json_dumps(conv)
    cid = str_or_none(conv.get("conversation_id")) or str_or_none(conv.get("id")) or (
        "chatgpt-" + hashlib.sha1(raw.encode()).hexdigest()[:16])
    res.raw.append(RawRecord(item, None, "conversation", cid, cid, raw))
    sess = res.session(cid, SOURCE)
    sess.title = str_or_none(conv.get("title"))
    sess.started_at = timestamp(conv.get("create_time"))
    sess.model = str_or_none(conv.get("default_model_slug"))
    sess.project = str_or_none(conv.get("gizmo_id"))

    mapping: dict[str, dict] = {k: v for k, v in conv["mapping"].items() if isinstance(v, dict)}
    parent = {k: str_or_none(v.get("parent")) for k, v in mapping.items()}
    children = {k: [c for c in v["children"] if isinstance(c, str) and c in mapping]
                if isinstance(v.get("children"), list) else [] for k, v in mapping.items()}
    for k, p in parent.items():  # a node its parent does not list (children null, missing, damaged) is still its child
        if p in children and k not in children[p]:
            children[p].append(k)
    tip = str_or_none(conv.get("current_node"))
    if tip not in mapping:  # no pointer: follow the last child from the root
        roots = [k for k, p in parent.items() if p not in mapping]
        tip = roots[0] if roots else None
        while tip is not None and children.get(tip):
            tip = children[tip][-1]
    main = main_branch(parent, tip)

    # Depth-first from the roots, children in their listed order: a stable position for each node.
    order: list[str] = []
    stack = [k for k, p in reversed(list(parent.items())) if p not in mapping]
    seen: set[str] = set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        order.append(n)
        stack.extend(reversed(children.get(n, [])))

    emitted: dict[str, Message] = {}
    branch_of: dict[str, dict] = {}  # node off the main branch -> its branch info (inherited by descendants)
    for sub, node_id in enumerate(order):
        par = parent.get(node_id)
        on_main = node_id in main
        info = None
        if not on_main:
            up = branch_of.get(par) if par else None
            if up is not None:
                info = {"branch": up["branch"], "branch_root": up["branch_root"]}
            else:  # where the branch leaves the kept path
                kept = next((c for c in children.get(par, []) if c in main), None) if par else None
                label = ("regeneration" if _role(mapping[node_id]) == "assistant" else "edit") if kept else "abandoned"
                info = {"branch": label, "branch_root": node_id} | ({"sibling_of": kept} if kept else {})
            branch_of[node_id] = info
        msg = _message(mapping[node_id], node_id, cid, item, sub)
        if msg is None:
            continue
        # The nearest emitted ancestor: placeholder and hidden nodes are skipped.
        anc = par
        while anc is not None and anc not in emitted:
            anc = parent.get(anc)
        msg.parent_id = anc
        msg.on_main_branch = on_main
        extra = dict(msg.extra or {})
        if info is not None:
            extra.update(info)
        elif par is not None and len(children.get(par, [])) > 1:
            extra["alternatives"] = [c for c in children[par] if c != node_id]
        fb = feedback.get(node_id) or feedback.get(text_of((mapping[node_id].get("message") or {}).get("id")))
        if fb:
            extra.update(fb)
        msg.extra = extra or None
        if msg.model and on_main:
            sess.model = msg.model
        emitted[node_id] = msg
        res.messages.append(msg)
        if msg.kind == Kind.TOOL_CALL:
            res.tool_calls.append(ToolCall(tool_use_id=node_id, session_id=cid, call_msg_id=node_id,
                                           name=msg.tool_name, input=msg.text))
        elif msg.kind == Kind.TOOL_RESULT and anc is not None and emitted[anc].kind == Kind.TOOL_CALL:
            msg.tool_use_id = anc
            res.tool_calls.append(ToolCall(tool_use_id=anc, session_id=cid, result_msg_id=node_id,
                                           result_text=msg.text[:RESULT_TEXT_CHARS]))


def _role(node: dict) -> str | None:
    m = node.get("message")
    author = m.get("author") if isinstance(m, dict) else None
    return author.get("role") if isinstance(author, dict) else None


def _content_text(content: Any) -> tuple[str, int]:
    """(text, number of images) of a message's `content`, whatever its content_type."""
    if not isinstance(content, dict):
        return (content if isinstance(content, str) else ""), 0
    parts, images = [], 0
    for p in content.get("parts") or []:
        if isinstance(p, str):
            parts.append(p)
        elif isinstance(p, dict):
            if "image" in str(p.get("content_type", "")):
                images += 1
            elif isinstance(p.get("text"), str):
                parts.append(p["text"])
    for key in ("text", "result"):
        if isinstance(content.get(key), str):
            parts.append(content[key])
    for t in content.get("thoughts") or []:  # o-series reasoning
        if isinstance(t, dict):
            parts.append("\n".join(x for x in (text_of(t.get("summary")), text_of(t.get("content"))) if x))
    if content.get("content_type") == "reasoning_recap" and isinstance(content.get("content"), str):
        parts.append(content["content"])
    ctx = content.get("user_profile"), content.get("user_instructions")  # user_editable_context
    parts += [c for c in ctx if isinstance(c, str)]
    return "\n".join(p for p in parts if p), images


def _message(node: dict, node_id: str, cid: str, item: int, sub: int) -> Message | None:
    m = node.get("message")
    if not isinstance(m, dict):
        return None  # the root placeholder
    author = m.get("author") if isinstance(m.get("author"), dict) else {}
    role = author.get("role")
    content = m.get("content") if isinstance(m.get("content"), dict) else {}
    ctype = content.get("content_type")
    meta = m.get("metadata") if isinstance(m.get("metadata"), dict) else {}
    text, images = _content_text(content)
    extra: dict[str, Any] = {"images": images} if images else {}
    recipient = m.get("recipient")
    tool_name = None
    if role == "user":
        role_out = "user"
        if ctype == "user_editable_context" or meta.get("is_user_system_message"):
            kind = Kind.SYSTEM
        elif text.strip():
            kind = Kind.HUMAN_PROMPT
        else:
            kind = Kind.IMAGE if images else Kind.OTHER
    elif role == "assistant":
        role_out = "assistant"
        if ctype in ("thoughts", "reasoning_recap"):
            kind = Kind.THINKING
        elif isinstance(recipient, str) and recipient not in ("all", ""):
            kind, tool_name = Kind.TOOL_CALL, recipient
        else:
            kind = Kind.ASSISTANT_TEXT
    elif role == "tool":
        role_out, kind, tool_name = "tool", Kind.TOOL_RESULT, str_or_none(author.get("name"))
    else:
        role_out, kind = "system", Kind.SYSTEM
        ucm = meta.get("user_context_message_data")
        if isinstance(ucm, dict):  # custom instructions: typed once in settings, not a prompt
            text = "\n".join(v for v in ucm.values() if isinstance(v, str))
            extra["custom_instructions"] = True
    if not text.strip() and kind in (Kind.SYSTEM, Kind.OTHER, Kind.ASSISTANT_TEXT):
        return None  # hidden empty placeholders (system roots, empty streaming stubs)
    if ctype and ctype not in ("text", "multimodal_text"):
        extra["content_type"] = ctype
    return Message(
        msg_id=node_id, session_id=cid, role=role_out, kind=kind, text=text,
        timestamp=timestamp(m.get("create_time")), model=str_or_none(meta.get("model_slug")),
        is_human=kind == Kind.HUMAN_PROMPT, tool_name=tool_name,
        tool_use_id=node_id if kind == Kind.TOOL_CALL else None,
        line_no=item, sub=sub, extra=extra or None,
    )
