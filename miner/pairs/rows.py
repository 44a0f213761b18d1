"""A pair as the `pairs` table stores it (miner.tables.replace_pairs): its stable id and its row."""

from __future__ import annotations

import hashlib
import json

from miner.filters import FILTER_NAMES, Candidate

def pair_id(anchor_msg_id: str, method: str) -> str:
    return hashlib.sha1(f"{anchor_msg_id}\0{method}".encode()).hexdigest()[:20]


def candidate_row(c: Candidate) -> tuple:
    passed = [f for f in FILTER_NAMES if f not in c.failed]
    return (c.pair_id, c.session_id, c.role_name, c.feedback_msg_id, c.rejected_msg_id, c.chosen_msg_id,
            json.dumps(c.prompt, ensure_ascii=False),
            json.dumps([{"role": "assistant", "content": c.chosen}], ensure_ascii=False),
            json.dumps([{"role": "assistant", "content": c.rejected}], ensure_ascii=False),
            c.feedback, c.method, json.dumps(passed), json.dumps(c.failed), not c.failed, c.made_by)
