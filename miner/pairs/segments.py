"""A session's main branch as segments: each human-side turn (effective label: a review relabel wins) and the
assistant answer that followed it, its text and tool calls as `Part`s. Interrupts and retries without feedback
("continue") are see-through: neither a request nor feedback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from miner.classify.base import INTERRUPT, NOT_HUMAN, REATTEMPT_WITH_FEEDBACK, REATTEMPT_WITHOUT_FEEDBACK
from miner.render import tool_line
from miner.tables import EFFECTIVE_LABELS
from vault.model import Kind, kinds_sql
from vault.sqlstring import sql_string

SEE_THROUGH = frozenset({INTERRUPT, REATTEMPT_WITHOUT_FEEDBACK})  # neither a request nor feedback
ANSWER_KINDS = (Kind.ASSISTANT_TEXT, Kind.TOOL_CALL)


@dataclass
class Part:
    msg_id: str
    kind: str
    text: str  # a tool call: its one-line stub
    tool: str | None = None  # a tool call: its name and input, rendered with detail by render_answer
    tool_input: Any = None


@dataclass
class Segment:
    """One human-side turn (None before the first) and the assistant answer that followed it."""

    msg_id: str | None
    kind: str | None
    text: str
    label: str | None
    answer: list[Part] = field(default_factory=list)
    confidence: float | None = None  # the miner's, for its label; None for hand labels and review relabels
    typed: bool = True  # text a person typed (messages.is_human)

    @property
    def see_through(self) -> bool:
        if self.msg_id is None:
            return False
        return self.label in SEE_THROUGH or (self.label is None and self.kind == Kind.INTERRUPT)


BRANCHED = ("m.session_id IN (SELECT session_id FROM messages WHERE NOT on_main_branch "
            "AND json_extract_string(extra, '$.branch') IN ('regeneration', 'edit') "
            "OR json_extract_string(extra, '$.feedback') IS NOT NULL)")
CORRECTED = (f"m.session_id IN (SELECT session_id FROM {EFFECTIVE_LABELS} "
             f"WHERE label = {sql_string(REATTEMPT_WITH_FEEDBACK)})")


def _session_ids(con: duckdb.DuckDBPyConnection, sessions: str) -> list[str]:
    return [r[0] for r in con.execute(
        f"SELECT DISTINCT m.session_id FROM messages m WHERE {sessions}"
    ).fetchall()]


def _segments_sql() -> str:
    return f"""
        SELECT m.session_id, m.msg_id, m.kind, m.text, m.tool_name,
               CASE WHEN m.kind = {sql_string(Kind.TOOL_CALL)} THEN tc.input END, e.label,
               CASE WHEN e.relabelled OR l.backend = 'hand' THEN NULL ELSE l.confidence END, m.is_human
        FROM messages m
        LEFT JOIN {EFFECTIVE_LABELS} e ON e.msg_id = m.msg_id
        LEFT JOIN labels l ON l.msg_id = m.msg_id
        -- a plain equi-join: with the kind test inside ON, DuckDB falls back to a ~100x slower plan
        LEFT JOIN tool_calls tc ON tc.tool_use_id = m.tool_use_id
        JOIN sessions s ON s.session_id = m.session_id
        WHERE m.on_main_branch AND NOT m.is_sidechain AND m.session_id IN (SELECT unnest(?))
          AND m.kind IN ({kinds_sql(Kind.HUMAN_SIDE | set(ANSWER_KINDS))})
        ORDER BY s.started_at NULLS LAST, m.session_id, m.seq
    """


def load_segments(con: duckdb.DuckDBPyConnection, sessions: str = CORRECTED) -> dict[str, list[Segment]]:
    """Main-branch segments of the sessions `sessions` selects (default: those with a correction)."""
    out: dict[str, list[Segment]] = {}
    ids = _session_ids(con, sessions)
    if not ids:
        return out
    rows = con.execute(_segments_sql(), [ids]).fetchall()
    for sid, msg_id, kind, text, tool, tool_input, label, confidence, typed in rows:
        segs = out.setdefault(sid, [Segment(None, None, "", None)])
        if kind in Kind.HUMAN_SIDE:
            if label == NOT_HUMAN:
                continue
            segs.append(Segment(msg_id, kind, text or "", label, confidence=confidence, typed=bool(typed)))
        elif kind == Kind.TOOL_CALL:
            segs[-1].answer.append(Part(msg_id, kind, tool_line(tool, tool_input, text or ""), tool or "tool",
                                        tool_input))
        elif (text or "").strip():
            segs[-1].answer.append(Part(msg_id, kind, text))
    return out
