"""What a parser produces: sessions, messages, tool calls and raw records.

Parsers know their format and nothing else; the ingest engine and the store
turn these plain objects into rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The kinds live in vault.kinds (no dataclass to build: the keyword search imports them, not these classes).
from vault.kinds import Kind, kinds_sql  # noqa: F401  (re-exported: importers name them here)


@dataclass(slots=True)
class Session:
    session_id: str
    source: str
    project: str | None = None
    cwd: str | None = None
    git_branch: str | None = None
    title: str | None = None
    parent_session_id: str | None = None
    parent_tool_use_id: str | None = None
    agent_id: str | None = None
    agent_type: str | None = None
    user_id: str | None = None
    version: str | None = None
    model: str | None = None
    started_at: str | None = None  # ISO timestamps; the store recomputes bounds from messages
    ended_at: str | None = None


@dataclass(slots=True)
class Message:
    msg_id: str
    session_id: str
    role: str  # user | assistant | system | tool
    kind: str
    text: str = ""
    parent_id: str | None = None
    timestamp: str | None = None
    model: str | None = None
    turn_id: str | None = None  # one assistant API call (message.id / requestId) spans several records
    is_human: bool = False
    is_sidechain: bool = False
    agent_id: str | None = None
    tool_name: str | None = None
    tool_use_id: str | None = None
    is_error: bool = False
    line_no: int = 0  # 1-based line (or item index) in its file
    sub: int = 0  # position among messages made from the same line
    extra: dict[str, Any] | None = None  # feedback reasons, usage, branch info: small, format-specific
    on_main_branch: bool = True  # False on a branch the person left (regeneration, edit, rewind)


@dataclass(slots=True)
class ToolCall:
    tool_use_id: str
    session_id: str
    call_msg_id: str | None = None
    name: str | None = None
    input: Any = None
    result_msg_id: str | None = None
    result_text: str | None = None
    is_error: bool | None = None
    subagent_session_id: str | None = None


@dataclass(slots=True)
class RawRecord:
    """One source record, byte for byte (decoded), so nothing a parser ignores is lost."""

    line_no: int
    byte_offset: int
    record_type: str | None
    record_id: str | None
    session_id: str | None
    raw: str
    parent_id: str | None = None


REASON_CHARS = 300  # a reported reason is one short line


@dataclass(slots=True)
class LineError:
    """What a parser could not read, and where: `line` counts `unit`s of the file from 1. "line": a text line (0:
    the whole file, no line says it); in a whole-document export, "conversation" (ChatGPT), "item" (Claude.ai: its
    conversations and projects counted together) or "message" (a Gemini session document)."""

    line: int
    reason: str
    unit: str = "line"

    def __post_init__(self) -> None:
        self.reason = self.reason[:REASON_CHARS]


@dataclass
class ParseResult:
    """Everything read from one file (or from its new tail)."""

    sessions: dict[str, Session] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    raw: list[RawRecord] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    end_offset: int = 0  # byte offset after the last complete line consumed
    end_line: int | None = None  # number of the last line consumed (line formats; blank lines count)
    unknown_types: dict[str, int] = field(default_factory=dict)

    def session(self, session_id: str, source: str) -> Session:
        s = self.sessions.get(session_id)
        if s is None:
            s = self.sessions[session_id] = Session(session_id=session_id, source=source)
        return s
