"""A small fixed vault for the TUI tests: examples/ ingested, human turns labelled, pairs and personas.

Labels and pairs are written here (not mined) so that the snapshots never move when the miner changes.
"""

from __future__ import annotations

import json
from pathlib import Path

from support import EXAMPLES

from miner.classify.base import (
    INITIAL_REQUEST,
    INTERRUPT,
    NEW_REQUEST,
    POSITIVE_FEEDBACK,
    REATTEMPT_WITH_FEEDBACK,
)

# Words that make a turn a correction in this fixture (the example archive's planted ones).
CORRECTION_CUES = ("did you run", "didn't run", "read the spec", "don't edit", "never hardcode", "too long",
                   "shorter please", "too wordy", "skip the preamble", "traceback")
PRAISE_CUES = ("thanks", "great", "perfect", "lgtm", "good", "that works", "ok, it works", "nice")


def fixture_label(kind: str, text: str, position: int) -> str:
    t = (text or "").lower()
    if kind == "interrupt":
        return INTERRUPT
    if position == 0:
        return INITIAL_REQUEST
    if any(c in t for c in CORRECTION_CUES):
        return REATTEMPT_WITH_FEEDBACK
    if any(t.startswith(c) for c in PRAISE_CUES):
        return POSITIVE_FEEDBACK
    return NEW_REQUEST


def build_vault(path: Path) -> Path:
    """Ingest examples/, build the keyword index, assign roles, label turns, add pairs and personas."""
    from miner.tables import assign_roles
    from vault.index import fts
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(path)
    try:
        ingest(con, [EXAMPLES / "claude-code"])
        fts.ensure_index(con)
        assign_roles(con, [])
        label_turns(con)
        add_pairs(con)
        add_personas(con)
    finally:
        con.close()
    return path


def label_turns(con) -> None:
    rows = con.execute(
        "SELECT msg_id, session_id, kind, text FROM messages WHERE kind IN "
        "('human_prompt', 'queued_prompt', 'tool_rejection', 'interrupt') ORDER BY session_id, timestamp, seq"
    ).fetchall()
    pos: dict[str, int] = {}
    for msg_id, sid, kind, text in rows:
        i = pos[sid] = pos.get(sid, -1) + 1
        con.execute("INSERT INTO labels (msg_id, session_id, label, confidence, backend, version, reasons) "
                    "VALUES (?, ?, ?, 0.9, 'fixture', '1', '[]')", [msg_id, sid, fixture_label(kind, text, i)])


def add_pairs(con) -> None:
    """One pair per correction: rejected = the answer before it, chosen = the answer after it."""
    corr = con.execute(
        "SELECT l.msg_id, l.session_id, m.text, m.timestamp, r.role_name FROM labels l "
        "JOIN messages m USING (msg_id) LEFT JOIN roles r ON r.session_id = l.session_id "
        "WHERE l.label = 'reattempt_with_feedback' ORDER BY l.session_id, m.timestamp").fetchall()
    for n, (msg_id, sid, text, ts, role) in enumerate(corr):
        before = con.execute("SELECT msg_id, text FROM messages WHERE session_id = ? AND kind = 'assistant_text' "
                             "AND timestamp < ? ORDER BY timestamp DESC LIMIT 1", [sid, ts]).fetchone()
        after = con.execute("SELECT msg_id, text FROM messages WHERE session_id = ? AND kind = 'assistant_text' "
                            "AND timestamp > ? ORDER BY timestamp LIMIT 1", [sid, ts]).fetchone()
        if not before or not after:
            continue
        con.execute(
            "INSERT INTO pairs (pair_id, session_id, role_name, feedback_msg_id, rejected_msg_id, chosen_msg_id, "
            "prompt, chosen, rejected, feedback, method, filters_passed, filters_failed, kept) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'next_attempt', '[]', '[]', true)",
            [f"pair-{n:02d}", sid, role, msg_id, before[0], after[0], json.dumps([{"role": "user", "content": "…"}]),
             json.dumps([{"role": "assistant", "content": after[1]}]),
             json.dumps([{"role": "assistant", "content": before[1]}]), text])


PERSONAS = {
    "billing-api": "You work on a billing API. Run the test suite before saying something is fixed; "
                   "read the spec before guessing; never edit an applied migration, add a new one.",
    "docs-site": "You write documentation. Keep it short; no emojis; no preamble.",
}


def add_personas(con) -> None:
    for role, text in PERSONAS.items():
        con.execute("INSERT INTO personas (role_name, text, rules, backend, edited) VALUES (?, ?, ?, 'fixture', false)",
                    [role, text, json.dumps([{"rule": text.split('. ')[-1], "support": 2, "examples": []}])])


def sync(fn):
    """Run an async test function with asyncio (no pytest async plugin needed)."""
    import asyncio
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper
