"""Methods `regeneration`, `edit`, `thumbs`: pairs from ChatGPT-style sibling branches (kept vs. abandoned),
oriented by thumbs where given."""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from miner.classify.base import REATTEMPT_WITH_FEEDBACK
from miner.filters import Candidate
from miner.pairs.prompt import build_prompt, has_text, render_answer
from miner.pairs.rows import pair_id
from miner.pairs.segments import ANSWER_KINDS, BRANCHED, SEE_THROUGH, Part, load_segments
from miner.render import tool_line
from vault.model import Kind
from vault.sqlstring import sql_string

@dataclass
class Node:
    msg_id: str
    parent_id: str | None
    kind: str
    text: str
    on_main: bool
    extra: dict


def _branch_nodes(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Node]]:
    rows = con.execute(f"""
        SELECT m.session_id, m.msg_id, m.parent_id, m.kind, m.text, m.tool_name,
               CASE WHEN m.kind = {sql_string(Kind.TOOL_CALL)} THEN tc.input END, m.on_main_branch, m.extra
        FROM messages m LEFT JOIN tool_calls tc ON tc.tool_use_id = m.tool_use_id
        WHERE NOT m.is_sidechain AND {BRANCHED} ORDER BY m.session_id, m.seq""").fetchall()
    out: dict[str, dict[str, Node]] = {}
    for sid, mid, parent, kind, text, tool, tool_input, on_main, extra in rows:
        text = tool_line(tool, tool_input, text or "") if kind == Kind.TOOL_CALL else (text or "")
        out.setdefault(sid, {})[mid] = Node(mid, parent, kind, text, on_main, json.loads(extra) if extra else {})
    return out


def _branch_answer(nodes: dict[str, Node], start: Node) -> list[Part]:
    """The assistant answer from `start` down its branch (first child each time) until a human turn."""
    children: dict[str | None, list[Node]] = {}
    for n in nodes.values():
        children.setdefault(n.parent_id, []).append(n)
    parts, node = [], start
    while node is not None and node.kind not in Kind.HUMAN_SIDE:
        if node.kind in ANSWER_KINDS and node.text.strip():
            parts.append(Part(node.msg_id, node.kind, node.text))
        kids = [k for k in children.get(node.msg_id, []) if k.on_main == start.on_main]
        node = kids[0] if kids else None
    return parts


def _thumbs_text(node: Node) -> str:
    e = node.extra
    return e.get("feedback_text") or ", ".join(e.get("feedback_tags") or []) or f"thumbs {e.get('feedback')}"


def branch_candidates(con: duckdb.DuckDBPyConnection, roles: dict[str, str], budget: int) -> list[Candidate]:
    """Pairs from kept vs. abandoned sibling branches, oriented by thumbs where given.

    - `regeneration`: the person regenerated an answer and kept the other one: chosen = kept answer,
      rejected = the abandoned sibling; prompt = the context up to the request both answered;
    - `thumbs`: the same, when a thumbs rating decides (a thumbs-down sibling, a thumbs-up kept
      one; a thumbs-up on the abandoned sibling turns the pair round);
    - `edit`: the person edited a prompt: rejected = the answer to the original prompt, which ends
      the pair's prompt; chosen = the answer to the edited prompt (the edit plays the feedback).
    """
    out = []
    nodes_by_session = _branch_nodes(con)
    segs_by_session = load_segments(con, BRANCHED)
    for sid, nodes in nodes_by_session.items():
        segs = segs_by_session.get(sid, [])
        seg_at = {s.msg_id: i for i, s in enumerate(segs) if s.msg_id}
        for root in nodes.values():
            kept = nodes.get(root.extra.get("sibling_of") or "")
            if root.on_main or root.extra.get("branch_root") != root.msg_id or kept is None:
                continue
            if root.extra.get("branch") == "regeneration":
                j = seg_at.get(kept.parent_id or "")
                if j is None:
                    continue
                chosen, rejected = segs[j].answer, _branch_answer(nodes, root)
                prompt, feedback, method = build_prompt(segs, j, budget), "(regenerated)", "regeneration"
                anchor = root
                up_root, down_root = root.extra.get("feedback") == "up", root.extra.get("feedback") == "down"
                if kept.extra.get("feedback") == "up" or down_root:
                    method, feedback = "thumbs", _thumbs_text(root if down_root else kept)
                elif up_root:
                    method, feedback = "thumbs", _thumbs_text(root)
                    chosen, rejected = rejected, chosen
                k = j
            elif root.extra.get("branch") == "edit" and root.kind in Kind.HUMAN_SIDE:
                k = seg_at.get(kept.msg_id)
                if k is None:
                    continue
                chosen = segs[k].answer
                kids = [n for n in nodes.values() if n.parent_id == root.msg_id and not n.on_main]
                rejected = _branch_answer(nodes, kids[0]) if kids else []
                prompt = build_prompt(segs, k, budget)
                if prompt and prompt[-1]["role"] == "user":
                    prompt[-1] = {"role": "user", "content": root.text}
                feedback, method, anchor = kept.text, "edit", root
            else:
                continue
            nxt = segs[k + 1].label if k + 1 < len(segs) else None
            out.append(Candidate(
                pair_id=pair_id(anchor.msg_id, method), session_id=sid, role_name=roles.get(sid), method=method,
                feedback_msg_id=anchor.msg_id, rejected_msg_id=rejected[-1].msg_id if rejected else None,
                chosen_msg_id=chosen[0].msg_id if chosen else None, prompt=prompt, chosen=render_answer(chosen),
                rejected=render_answer(rejected), feedback=feedback, chosen_has_text=has_text(chosen),
                rejected_has_text=has_text(rejected),
                chosen_interrupted=nxt in SEE_THROUGH or nxt == REATTEMPT_WITH_FEEDBACK))
    return out
