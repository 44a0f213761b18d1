"""What the screens read and write: plain functions over a DuckDB connection (no Textual here).

Reads reuse vault.queries and miner.analytics; writes go to `reviews` and `personas` only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from miner.analytics import effective_turns_sql
from miner.classify.base import LABELS, NOT_HUMAN, REATTEMPT_WITH_FEEDBACK
from vault import queries
from vault.store import transaction

if TYPE_CHECKING:
    from vault.settings import Settings

RELABEL_CHOICES: tuple[str, ...] = (*LABELS, NOT_HUMAN)
PAIR_DECISIONS = ("accept", "reject")  # exclusive: deciding one withdraws the other


# -- sessions --------------------------------------------------------------------------------

def session_rows(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[dict[str, Any]]:
    """Top-level sessions with role and correction rate (None: not mined, or too few turns to rate)."""
    rates = {s["session_id"]: s for s in corrections(con, settings)["sessions"]}
    out = []
    for s in queries.list_sessions(con):
        r = rates.get(s["session_id"], {})
        out.append({**s, "role": s["role_name"] or r.get("role"), "rate": r.get("rate"),
                    "corrections": r.get("corrections", 0), "troubled": bool(r.get("troubled")), "labelled": bool(r),
                    "headline": " ".join((s["title"] or s["first_prompt"] or "").split())})
    return out


# -- one conversation ------------------------------------------------------------------------

def conversation(con: duckdb.DuckDBPyConnection, session_id: str) -> tuple[dict | None, list[dict]]:
    """Session info and its messages, with each turn's effective label (a review relabel wins)."""
    info = queries.session_info(con, session_id)
    if info is None:
        return None, []
    msgs = queries.session_messages(con, session_id)
    relabels = dict(con.execute(
        f"WITH e AS ({effective_turns_sql()}) SELECT msg_id, label FROM e WHERE session_id = ? AND relabelled",
        [session_id]).fetchall())
    results = {m["tool_use_id"]: m for m in msgs if m["kind"] == "tool_result" and m["tool_use_id"]}
    calls = {m["tool_use_id"] for m in msgs if m["kind"] == "tool_call"}
    for m in msgs:
        m["in_call"] = m["kind"] == "tool_result" and m["tool_use_id"] in calls
        if m["msg_id"] in relabels:
            m["label"], m["relabelled"] = relabels[m["msg_id"]], True
        m["is_correction"] = m.get("label") == REATTEMPT_WITH_FEEDBACK
        if m["kind"] == "tool_call":
            m["result"] = results.get(m["tool_use_id"])
    return info, msgs


# -- review ----------------------------------------------------------------------------------

@dataclass
class Pair:
    pair_id: str
    session_id: str
    role_name: str | None
    feedback_msg_id: str | None
    feedback: str
    prompt: list[dict]
    chosen: str
    rejected: str
    method: str
    persona: str | None = None
    decision: str | None = None  # accept | reject | None
    edited: str | None = None  # the person's rewrite of chosen
    label: str | None = None  # the feedback turn's effective label
    relabelled: bool = False
    extra: dict = field(default_factory=dict)


def _content(raw: Any) -> str:
    """The assistant text of a `chosen`/`rejected` JSON value (a message list, one message, or text)."""
    v = json.loads(raw) if isinstance(raw, str) else raw
    if isinstance(v, list):
        return "\n\n".join(_content(x) for x in v)
    if isinstance(v, dict):
        return str(v.get("content") or "")
    return "" if v is None else str(v)


def pairs(con: duckdb.DuckDBPyConnection) -> list[Pair]:
    """Kept pairs, undecided first (then by session and id), with persona, decisions and label."""
    rows = con.execute(
        """
        SELECT p.pair_id, p.session_id, p.role_name, p.feedback_msg_id, coalesce(p.feedback, ''), p.prompt,
               p.chosen, p.rejected, p.method, pe.text,
               (SELECT any_value(decision) FROM reviews r WHERE r.target = 'pair' AND r.target_id = p.pair_id
                  AND r.decision IN ('accept', 'reject')),
               (SELECT any_value(value) FROM reviews r WHERE r.target = 'pair' AND r.target_id = p.pair_id
                  AND r.decision = 'edit'),
               coalesce(rv.value, l.label), rv.value IS NOT NULL
        FROM pairs p
        LEFT JOIN personas pe ON pe.role_name = p.role_name
        LEFT JOIN labels l ON l.msg_id = p.feedback_msg_id
        LEFT JOIN reviews rv ON rv.target = 'turn' AND rv.decision = 'relabel' AND rv.target_id = p.feedback_msg_id
        WHERE p.kept
        ORDER BY p.session_id, p.pair_id
        """).fetchall()
    out = []
    for r in rows:
        prompt = json.loads(r[5]) if r[5] else []
        out.append(Pair(pair_id=r[0], session_id=r[1], role_name=r[2], feedback_msg_id=r[3], feedback=r[4],
                        prompt=prompt if isinstance(prompt, list) else [], chosen=_content(r[6]),
                        rejected=_content(r[7]), method=r[8], persona=r[9], decision=r[10], edited=r[11],
                        label=r[12], relabelled=bool(r[13])))
    return out


def record_review(con: duckdb.DuckDBPyConnection, target: str, target_id: str, decision: str,
                  value: str | None = None) -> None:
    """Save a decision at once (one row per target and decision; accept and reject exclude each other)."""
    if target not in ("pair", "turn") or decision not in ("accept", "reject", "edit", "relabel"):
        raise ValueError(f"bad review {target}/{decision}")
    if decision == "relabel" and value not in RELABEL_CHOICES:
        raise ValueError(f"unknown label {value!r}")
    with transaction(con):
        if decision in PAIR_DECISIONS:
            con.execute("DELETE FROM reviews WHERE target = ? AND target_id = ? AND decision IN ('accept', 'reject')",
                        [target, target_id])
        con.execute("INSERT OR REPLACE INTO reviews (target, target_id, decision, value, created_at) "
                    "VALUES (?, ?, ?, ?, current_timestamp)", [target, target_id, decision, value])


def review_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("SELECT decision, count(*) FROM reviews GROUP BY decision").fetchall())


# -- personas --------------------------------------------------------------------------------

def personas(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute("SELECT role_name, coalesce(text, ''), rules, backend, coalesce(edited, false) "
                       "FROM personas ORDER BY role_name").fetchall()
    return [{"role_name": r[0], "text": r[1], "rules": json.loads(r[2]) if r[2] else [], "backend": r[3],
             "edited": bool(r[4])} for r in rows]


def save_persona(con: duckdb.DuckDBPyConnection, role_name: str, text: str) -> None:
    """A person's edit: marked `edited` so that mining again keeps it."""
    con.execute("UPDATE personas SET text = ?, edited = true, updated_at = current_timestamp WHERE role_name = ?",
                [text, role_name])


def corrections(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    """The correction report under the settings' `[corrections]`, as `vault stats --corrections` computes it."""
    from miner.analytics import configured_report

    return configured_report(con, settings)
