"""Hand labels for the example archive (examples/sessions.py), used until/besides `vault mine`.

The corrections are the feedback turns planted on purpose; everything else gets the obvious label.
"""

from __future__ import annotations

CORRECTIONS = (  # prefixes of the planted feedback turns
    "did you run the tests?",
    "No, read the spec in docs/refunds.md",
    "don't edit an applied migration",
    "Traceback (most recent call last)",
    "you didn't run the tests again",
    "too long. two sentences max",
    "skip the preamble and keep it short",
    "shorter please, just the config snippet",
    "Too wordy and no emojis please",
    "no, never hardcode credentials",
)
POSITIVE = ("great, that works", "perfect", "ok, it works now. thanks", "thanks", "thanks, that's what I needed",
            "lgtm", "good", "that works", "good, thanks", "nice, thanks")


def label_of(kind: str, text: str, first: bool) -> str:
    t = (text or "").strip()
    if kind == "interrupt" or (kind == "tool_rejection" and not t):
        return "interrupt"
    if any(t.startswith(c) for c in CORRECTIONS):
        return "reattempt_with_feedback"
    if t == "continue":
        return "reattempt_without_feedback"
    if t in POSITIVE:
        return "positive_feedback"
    return "initial_request" if first else "new_request"


def hand_label(con) -> int:
    """Label every human-side turn of the vault by the rules above; returns the number of corrections."""
    rows = con.execute("""
        SELECT msg_id, session_id, kind, text,
               row_number() OVER (PARTITION BY session_id ORDER BY seq) = 1 AS first
        FROM messages WHERE kind IN ('human_prompt', 'queued_prompt', 'tool_rejection', 'interrupt')
          AND NOT is_sidechain""").fetchall()
    from miner.mine import store_hand_labels

    con.execute("DELETE FROM labels")
    store_hand_labels(con, [{"msg_id": msg_id, "label": label_of(kind, text, first)}
                            for msg_id, sid, kind, text, first in rows], version="1")
    return con.execute("SELECT count(*) FROM labels WHERE label = 'reattempt_with_feedback'").fetchone()[0]
