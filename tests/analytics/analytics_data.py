"""Builders for the analytics tests: constructed sessions with known labels, the corpora hand labels."""

from __future__ import annotations

import datetime as dt
import json

from support import CORPORA, require_shared

HT, INT = "human_prompt", "interrupt"
IR, NR, RWF, RWO, POS = ("initial_request", "new_request", "reattempt_with_feedback",
                         "reattempt_without_feedback", "positive_feedback")


def add_session(con, sid, *, project=None, cwd=None, source="claude_code", started=None, parent=None,
                agent_type=None, user_id=None, first_prompt=None, turns=(), day_step=0):
    """A session and its human-side turns: `turns` = [(kind, label or None), ...].

    Turn i is timestamped `started + i minutes + (i // 10) * day_step days` (to cross ISO weeks).
    Each turn is followed by an assistant answer, as in a real transcript.
    """
    start = dt.datetime.fromisoformat(started) if started else None
    con.execute(
        "INSERT INTO sessions (session_id, source, project, cwd, started_at, parent_session_id, agent_type, "
        "user_id, first_prompt, human_messages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sid, source, project, cwd, start, parent, agent_type, user_id, first_prompt,
         sum(k != INT for k, _ in turns)],
    )
    seq = con.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()[0]
    for i, (kind, label) in enumerate(turns):
        ts = start + dt.timedelta(minutes=i, days=(i // 10) * day_step) if start else None
        mid = f"{sid}:{i}"
        con.execute("INSERT INTO messages (msg_id, session_id, seq, timestamp, role, kind, text, is_human) "
                    "VALUES (?, ?, ?, ?, 'user', ?, ?, ?)",
                    [mid, sid, seq + 2 * i + 1, ts, kind, f"turn {i}", kind != INT])
        con.execute("INSERT INTO messages (msg_id, session_id, seq, timestamp, role, kind, text) "
                    "VALUES (?, ?, ?, ?, 'assistant', 'assistant_text', 'ok')", [mid + ":a", sid, seq + 2 * i + 2, ts])
        if label is not None:
            con.execute("INSERT INTO labels (msg_id, session_id, label, confidence, backend, version) "
                        "VALUES (?, ?, ?, 0.9, 'fixture', '0')", [mid, sid, label])


def typed(*labels):
    return [(HT, lab) for lab in labels]


def load_hand_labels(con) -> int:
    """The dev hand labels of ../shared/corpora as labels rows (backend 'hand'); returns rows added."""
    require_shared()
    rows = [json.loads(line) for line in (CORPORA / "labels-dev.jsonl").read_text().splitlines() if line.strip()]
    from miner.mine import store_hand_labels

    return store_hand_labels(con, [r for r in rows if r["label"] != "not_human"])
