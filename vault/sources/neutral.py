"""Neutral conversation JSONL: one conversation per line.

Accepted shapes (see CONTRACTS.md): `{"id", "messages": [{"role", "content"}]}` (OpenAI
style), ShareGPT `{"conversations": [{"from", "value"}]}`, and WildChat / LMSYS rows
(`conversation_hash` or `conversation_id`, `conversation`, `hashed_ip` as the user id).
msg_id = "<conversation id>#<index in the list>".
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from vault.model import Kind, LineError, Message, ParseResult, RawRecord
from vault.sources.base import Head, Parser, as_text, iter_jsonl
from vault.sources.documents import timestamp
from vault.sources.claude_code import REJECT_PREFIX, classify_user_text, rejection_reason

SOURCE = "neutral"

_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "bot": "assistant",
         "chatgpt": "assistant", "model": "assistant", "bard": "assistant", "bing": "assistant", "claude": "assistant",
         "system": "system", "tool": "tool", "function": "tool", "observation": "tool", "ipython": "tool",
         "function_call": "assistant"}
# Per-message fields of WildChat / LMSYS rows worth keeping (small): moderation flags and language.
_MESSAGE_EXTRA = ("language", "toxic", "redacted", "turn_identifier", "country", "state")

# Console transcripts mark a person's action with these texts (see corpora/README.md).
_INTERRUPT_MARKERS = ("Interrupted by user", "Interrupted · What should Claude do instead?", "[Request interrupted by user")
_REJECT_MARKERS = ("No (tell Claude what to do differently)", "User rejected ", REJECT_PREFIX,
                   "The user doesn't want to take this action right now")

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
    if t.startswith(_INTERRUPT_MARKERS):
        return Kind.INTERRUPT, False, None
    if t.startswith(_REJECT_MARKERS):
        reason = rejection_reason(t)
        return Kind.TOOL_REJECTION, bool(reason), ({"reason": reason} if reason else None)
    if t.startswith("/") and " " not in t.split("\n", 1)[0][:40].strip() or t.startswith(("/compact", "/export")):
        return Kind.COMMAND, False, None
    kind = classify_user_text(text)
    return kind, kind == Kind.HUMAN_PROMPT and bool(t), None


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
            sess.project = str(src).split(":")[0] if src else path.stem
            sess.title = row.get("title") if isinstance(row.get("title"), str) else None
            # WildChat's hashed_ip is the only user identity these datasets carry: personas are built per user from it.
            uid = row.get("hashed_ip") or row.get("user_id") or row.get("user")
            sess.user_id = str(uid) if isinstance(uid, (str, int)) and uid != "" else None
            sess.model = row.get("model") if isinstance(row.get("model"), str) else None
            ts_row = timestamp(row.get("timestamp"))
            sess.started_at = ts_row
            prev_expands = False
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
                elif raw_role in ("observation", "function", "ipython"):
                    kind, human = Kind.TOOL_RESULT, False
                elif role == "user":
                    kind, human, extra = user_kind(text)
                    if prev_expands and kind == Kind.HUMAN_PROMPT:
                        kind, human = Kind.META, False  # the expansion of the custom command just above
                elif role == "assistant":
                    kind, human = Kind.ASSISTANT_TEXT, False
                elif role == "tool":
                    kind, human = Kind.TOOL_CALL, False
                else:
                    kind, human = Kind.SYSTEM, False
                kept = {k: m[k] for k in _MESSAGE_EXTRA if m.get(k) not in (None, "", [], {})}
                if kept:
                    extra = {**(extra or {}), **kept}
                res.messages.append(
                    Message(msg_id=f"{cid}#{i}", session_id=cid, role=role, kind=kind,
                            text=(extra or {}).get("reason") or text, timestamp=ts,
                            model=m.get("model") if isinstance(m.get("model"), str) else None,
                            is_human=human, line_no=line_no, sub=i, extra=extra,
                            parent_id=f"{cid}#{i - 1}" if i else None)
                )
                # A `<command-message>` wrapper is followed by its expanded body; a console
                # command (`/cost`, `/export`) carries its output inline, so the next message is typed.
                prev_expands = kind == Kind.COMMAND and text.lstrip().startswith("<command-")
        return res
