"""What the screens read and write: plain functions over a DuckDB connection (no Textual here).

Reads reuse vault.queries, miner.analytics and miner.tables; writes (reviews, persona edits) go through
miner.tables, which holds their invariants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from miner import tables
from miner.classify.base import REATTEMPT_WITH_FEEDBACK
from miner.tables import RELABEL_CHOICES, record_review, save_persona  # noqa: F401  (what the screens call)
from vault import queries

if TYPE_CHECKING:
    from vault.settings import Settings


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
    relabels = tables.relabels(con, session_id)
    stale = tables.stale_relabels(con, session_id)
    results = {m["tool_use_id"]: m for m in msgs if m["kind"] == "tool_result" and m["tool_use_id"]}
    calls = {m["tool_use_id"] for m in msgs if m["kind"] == "tool_call"}
    for m in msgs:
        m["in_call"] = m["kind"] == "tool_result" and m["tool_use_id"] in calls
        if m["msg_id"] in relabels:
            m["label"], m["relabelled"], m["relabel_stale"] = relabels[m["msg_id"]], True, m["msg_id"] in stale
        m["is_correction"] = m.get("label") == REATTEMPT_WITH_FEEDBACK
        if m["kind"] == "tool_call":
            m["result"] = results.get(m["tool_use_id"])
    return info, msgs


def label_note(label: str | None, relabelled: bool = False, stale: bool = False) -> str:
    """A turn's label as its border shows it; a relabel of a text that changed since says so (relabel again)."""
    return (label or "not labelled") + (" (relabelled; the text changed since)" if relabelled and stale
                                        else " (relabelled)" if relabelled else "")


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
    relabel_stale: bool = False  # the feedback's text changed since the person relabelled it
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
    """Kept pairs by session and id, with persona, decisions and the feedback turn's effective label."""
    stored = tables.load_pairs(con, kept_only=True)
    personas = tables.persona_texts(con)
    labels = tables.turn_labels(con, [p["feedback_msg_id"] for p in stored if p["feedback_msg_id"]])
    stale = tables.stale_relabels(con)
    out = []
    for p in stored:
        label, relabelled = labels.get(p["feedback_msg_id"], (None, False))
        out.append(Pair(pair_id=p["pair_id"], session_id=p["session_id"], role_name=p["role_name"],
                        feedback_msg_id=p["feedback_msg_id"], feedback=p["feedback"] or "",
                        prompt=p["prompt"] if isinstance(p["prompt"], list) else [], chosen=_content(p["chosen"]),
                        rejected=_content(p["rejected"]), method=p["method"], persona=personas.get(p["role_name"]),
                        decision=p["review"].verdict, edited=p["review"].edit, label=label, relabelled=relabelled,
                        relabel_stale=p["feedback_msg_id"] in stale))
    return out


# -- personas --------------------------------------------------------------------------------

def personas(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return [{"role_name": p["role_name"], "text": p["text"] or "", "rules": p["rules"], "backend": p["backend"],
             "edited": p["edited"]} for p in tables.load_personas(con)]


def corrections(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    """The correction report under the settings' `[corrections]`, as `vault stats --corrections` computes it."""
    from miner.analytics import configured_report

    return configured_report(con, settings)
