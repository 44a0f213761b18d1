"""Preference pairs from the mined corrections (RLHI "User-Guided Rewrites", offline variant).

For each `reattempt_with_feedback` turn (effective label: a review relabel wins):
- `rejected` = the assistant answer the person reacted to: its text plus its tool calls as what they
  did (the command, the file and a bounded diff; `render_answer`), within a budget;
- `prompt` = the conversation up to and including the request that answer answered, as
  [{role, content}], oldest messages dropped first to fit `prompt_chars`;
- `chosen` (method `next_attempt`) = the assistant's answer after the feedback, used only when
  the person then moved on: the next human turn is positive feedback, a new request, or the
  session ends. A chosen that is corrected again is superseded: a chain of corrections yields
  one pair, from the last rejected attempt to the accepted one.
Interrupts and retries without feedback ("continue") are see-through: an answer interrupted and
then continued counts as one answer (and the chosen one fails `chosen_corrected_later`).

Only main-branch, non-sidechain messages are used: subagent work is reached through the parent's
Task call line, abandoned forks are left out. ChatGPT sibling branches give further pairs
(methods `regeneration`, `edit`, `thumbs`; see `branch_candidates`). Opt-in and paid: `rewrite`,
the rejected answer rewritten by Claude to follow the feedback and the role's persona, as in the
paper (`rewrite_candidates`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pydantic

from miner.classify.base import (
    AFTER_CHARS,
    INITIAL_REQUEST,
    INTERRUPT,
    NEW_REQUEST,
    NOT_HUMAN,
    POSITIVE_FEEDBACK,
    REATTEMPT_WITH_FEEDBACK,
    REATTEMPT_WITHOUT_FEEDBACK,
)
from miner.filters import FILTER_NAMES, Candidate, FilterOptions, apply_filters
from miner.quality import strip_flattery
from miner.render import TOOL_DETAIL_CHARS, render_tool_calls, tool_line
from miner.tables import EFFECTIVE_LABELS, count_corrections, load_personas, replace_pairs, session_roles
from vault.model import Kind, kinds_sql

PROMPT_CHARS = 6000  # default context budget of a pair's prompt
SEE_THROUGH = frozenset({INTERRUPT, REATTEMPT_WITHOUT_FEEDBACK})  # neither a request nor feedback
ACCEPTING = frozenset({POSITIVE_FEEDBACK, NEW_REQUEST, INITIAL_REQUEST})  # the person moved on
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


def pair_id(anchor_msg_id: str, method: str) -> str:
    return hashlib.sha1(f"{anchor_msg_id}\0{method}".encode()).hexdigest()[:20]


def render_answer(parts: list[Part], budget: int = TOOL_DETAIL_CHARS) -> str:
    """The answer's text and its tool calls as what they did (command, file and bounded diff) within `budget`
    characters of detail; calls past the budget keep their one-line stub."""
    rendered = iter(render_tool_calls([(p.tool, p.tool_input, p.text) for p in parts if p.tool is not None], budget))
    out = []
    for p in parts:
        text = next(rendered) if p.tool is not None else p.text.strip()
        if text.strip():
            out.append(text)
    return "\n".join(out)


def has_text(parts: list[Part]) -> bool:
    return any(p.kind == Kind.ASSISTANT_TEXT and p.text.strip() for p in parts)


BRANCHED = ("m.session_id IN (SELECT session_id FROM messages WHERE NOT on_main_branch "
            "AND json_extract_string(extra, '$.branch') IN ('regeneration', 'edit') "
            "OR json_extract_string(extra, '$.feedback') IS NOT NULL)")
CORRECTED = f"m.session_id IN (SELECT session_id FROM {EFFECTIVE_LABELS} WHERE label = '{REATTEMPT_WITH_FEEDBACK}')"


def _session_ids(con: duckdb.DuckDBPyConnection, sessions: str) -> list[str]:
    return [r[0] for r in con.execute(
        f"SELECT DISTINCT m.session_id FROM messages m WHERE {sessions}"
    ).fetchall()]


def _segments_sql() -> str:
    return f"""
        SELECT m.session_id, m.msg_id, m.kind, m.text, m.tool_name,
               CASE WHEN m.kind = '{Kind.TOOL_CALL}' THEN tc.input END, e.label,
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


def user_content(seg: Segment) -> str:
    if seg.kind == Kind.TOOL_REJECTION:
        return f"(rejected the tool call) {seg.text}".strip()
    return seg.text


def build_prompt(segs: list[Segment], upto: int, budget: int) -> list[dict]:
    """Messages of segs[0..upto] ending with segs[upto]'s request; oldest dropped to fit `budget`."""
    msgs: list[dict] = []

    def add(role: str, content: str) -> None:
        if not content.strip():
            return
        if msgs and msgs[-1]["role"] == role:
            msgs[-1]["content"] += "\n\n" + content
        else:
            msgs.append({"role": role, "content": content})

    for i, seg in enumerate(segs[: upto + 1]):
        if seg.msg_id is not None and not seg.see_through:
            add("user", user_content(seg))
        if i < upto:
            add("assistant", render_answer(seg.answer))
    while len(msgs) > 1 and sum(len(m["content"]) for m in msgs) > budget:
        msgs.pop(0)
    while msgs and msgs[0]["role"] != "user":
        msgs.pop(0)
    return msgs


def rejected_side(segs: list[Segment], i: int, skipped: dict[str, int]) -> tuple[int, list[Part], bool] | None:
    """(index of the request, rejected answer, whether it spans a human turn) for the correction segs[i].

    The answer is read back across interrupts and retries to the request; when answers on both sides
    of such a turn are joined, the pair fails the `across_human_turn` filter.
    """
    j, rejected, pieces = i - 1, [], 0
    while j >= 0:
        rejected = segs[j].answer + rejected
        pieces += bool(segs[j].answer)
        if not segs[j].see_through:
            break
        j -= 1
    if j <= 0:  # nothing but assistant text before: no request to answer
        skipped["no_request"] += 1
        return None
    if not rejected:
        skipped["no_rejected_answer"] += 1
        return None
    return j, rejected, pieces > 1


def corrections(segs: list[Segment], skipped: dict[str, int]):
    """(i, request index, rejected answer) for each correction of a session that has both."""
    for i, seg in enumerate(segs):
        if seg.label == REATTEMPT_WITH_FEEDBACK and (side := rejected_side(segs, i, skipped)):
            yield i, *side


def next_attempt_candidates(segs: list[Segment], session_id: str, role: str | None, budget: int,
                            skipped: dict[str, int], keep_superseded: bool = False) -> list[Candidate]:
    out = []
    for i, j, rejected, joined in corrections(segs, skipped):
        seg = segs[i]
        # Forward over the chosen answer, across interrupts and retries, to the person's verdict.
        k, chosen, interrupted = i, list(seg.answer), False
        while k + 1 < len(segs) and segs[k + 1].see_through:
            k += 1
            interrupted = True
            chosen += segs[k].answer
        verdict = segs[k + 1].label if k + 1 < len(segs) else None
        corrected = k + 1 < len(segs) and verdict == REATTEMPT_WITH_FEEDBACK
        if corrected:
            skipped["superseded_by_chain"] += 1
            if not keep_superseded:
                continue
        elif k + 1 < len(segs) and verdict not in ACCEPTING:
            skipped["not_accepted"] += 1
            continue
        out.append(Candidate(
            pair_id=pair_id(seg.msg_id, "next_attempt"), session_id=session_id, role_name=role,
            method="next_attempt", feedback_msg_id=seg.msg_id, rejected_msg_id=rejected[-1].msg_id,
            chosen_msg_id=chosen[0].msg_id if chosen else None, prompt=build_prompt(segs, j, budget),
            chosen=render_answer(chosen), rejected=render_answer(rejected), feedback=seg.text,
            chosen_has_text=has_text(chosen), rejected_has_text=has_text(rejected),
            chosen_interrupted=interrupted, chosen_corrected=corrected, rejected_joined=joined,
            confidence=seg.confidence, feedback_typed=seg.typed, feedback_answer=prose_head(chosen),
            **_look_ahead(segs, k + 1)))
    return out


def _look_ahead(segs: list[Segment], k: int) -> dict[str, str | None]:
    """The person's turn segs[k] after a chosen answer and the head of the assistant's prose that answered it
    (across see-through turns); both None when the session ends first."""
    if k >= len(segs):
        return {"turn_after": None, "answer_after": None}
    return {"turn_after": segs[k].text, "answer_after": prose_head([p for s in _through(segs, k) for p in s.answer])}


def prose_head(answer: list[Part]) -> str:
    """The head of an answer's visible prose, its tool calls left out: what the miner's look-ahead reads
    (`Turn.next_assistant`, miner.classify.after.acknowledges)."""
    prose = [p.text.strip() for p in answer if p.kind == Kind.ASSISTANT_TEXT]
    return "\n".join(t for t in prose if t)[:AFTER_CHARS]


def _through(segs: list[Segment], k: int) -> list[Segment]:
    """segs[k] and the see-through turns (interrupts, "continue") right after it: one answer."""
    out = [segs[k]]
    while k + 1 < len(segs) and segs[k + 1].see_through:
        k += 1
        out.append(segs[k])
    return out


# --- ChatGPT-style branches: regenerations, edited prompts, thumbs -------------------------

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
               CASE WHEN m.kind = '{Kind.TOOL_CALL}' THEN tc.input END, m.on_main_branch, m.extra
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


# --- rewrite (opt-in, paid): the rejected answer rewritten to follow the feedback ----------

REWRITE_PROMPT_VERSION = "rewrite-v2"  # v2: the answer is plain text (v1 asked for JSON)
REWRITE_SYSTEM = (
    "You improve an AI assistant's answer that its user corrected. You get the conversation so far, the "
    "answer the user rejected and the user's feedback on it. Write the answer the assistant should have given "
    "in the first place: do what the feedback asks, respect the user's standing preferences, keep what was "
    "right, use the same form (tool calls stay one line each, as `[Tool] argument`), and do not mention the "
    "feedback or that this is a rewrite. Reply with the improved answer only, nothing before or after it.")
REWRITE_MIN_TOKENS = 64  # a rewrite's output bound never goes below this
_ANSWER_LABEL = re.compile(r"^\s*(?:\*\*)?(?:improved|rewritten|revised|new|better)? ?answer:?(?:\*\*)?:?\s*", re.I)


class RewriteAnswer(pydantic.BaseModel):
    """A rewrite: the plain text of the answer (what every model can give), or JSON {"rewrite": ...}."""

    rewrite: str

    @classmethod
    def from_text(cls, text: str) -> RewriteAnswer:
        body = _ANSWER_LABEL.sub("", text or "", count=1).strip()
        if not body:
            raise ValueError("empty answer")
        return cls(rewrite=body)


def _clip_middle(text: str, n: int) -> str:
    """`text` within n characters: its head and tail (a request's end and an answer's last words matter most)."""
    if len(text) <= n:
        return text
    head = n * 2 // 3
    return text[:head] + "\n[…]\n" + text[len(text) - (n - head):]


def _rewrite_user(prompt: list[dict], rejected: str, feedback: str, budget: int = PROMPT_CHARS) -> str:
    """The rewrite request within about `budget` characters: the conversation's oldest messages are already dropped
    (build_prompt), a long message is cut in its middle, and so are the rejected answer and the feedback."""
    convo = "\n\n".join(f"[{m['role']}]\n{_clip_middle(m['content'], budget // 2)}" for m in prompt)
    return (f"<conversation>\n{_clip_middle(convo, budget)}\n</conversation>\n\n<rejected_answer>\n"
            f"{_clip_middle(rejected, budget)}\n</rejected_answer>\n\n<user_feedback>\n"
            f"{_clip_middle(feedback, budget // 2)}\n</user_feedback>")


def rewrite_tokens(rejected: str, cap: int) -> int:
    """The output bound of a rewrite: about its rejected answer's length (a rewrite keeps its form), at most `cap`."""
    from miner.llm import estimate_tokens

    return max(REWRITE_MIN_TOKENS, min(cap, REWRITE_MIN_TOKENS + estimate_tokens(rejected) * 3 // 2))


def rewrite_candidates(con: duckdb.DuckDBPyConnection, roles: dict[str, str], budget: int, llm,
                       confirm=None, yes: bool = False, skipped: dict[str, int] | None = None) -> list[Candidate]:
    """One pair per correction: chosen = the LLM's rewrite of the rejected answer (RLHI's User-Guided Rewrite).

    `llm` is a `miner.llm.LLM` (texts are redacted before sending, answers cached in llm_cache).
    Something to pay for needs `yes` or `confirm(plan)` returning True; otherwise nothing is sent.
    """
    from miner.llm import LLMError

    skipped = skipped if skipped is not None else {}
    personas = {p["role_name"]: p["text"] for p in load_personas(con) if p["text"]}
    bases, reqs = [], []
    for sid, segs in load_segments(con).items():
        for i, j, rejected, joined in corrections(segs, {"no_request": 0, "no_rejected_answer": 0}):
            prompt, seg, role = build_prompt(segs, j, budget), segs[i], roles.get(sid)
            system = REWRITE_SYSTEM + (f"\n\nThe user's standing preferences:\n{personas[role]}"
                                       if role in personas else "")
            bases.append((sid, role, seg, joined, rejected, prompt))
            # Tool calls rendered within the budget's share for detail (command, file, bounded diff).
            shown = render_answer(rejected, min(TOOL_DETAIL_CHARS, budget // 2))
            tokens = rewrite_tokens(shown, llm.max_tokens)
            reqs.append(llm.request(system, _rewrite_user(prompt, shown, seg.text, budget),
                                    [system, seg.msg_id, shown, seg.text, f"max_tokens={tokens}"], max_tokens=tokens))
    llm.consent(llm.plan(reqs), yes, confirm)
    out = []
    for (sid, role, seg, joined, rejected, prompt), res in zip(bases, llm.run(reqs, RewriteAnswer)):
        if res.value is None:
            skipped["rewrite_failed"] = skipped.get("rewrite_failed", 0) + 1
            continue
        text, stripped = strip_flattery(res.value.rewrite.strip())
        skipped["opener_stripped"] = skipped.get("opener_stripped", 0) + stripped
        out.append(Candidate(
            pair_id=pair_id(seg.msg_id, "rewrite"), session_id=sid, role_name=role, method="rewrite",
            feedback_msg_id=seg.msg_id, rejected_msg_id=rejected[-1].msg_id, chosen_msg_id=None, prompt=prompt,
            chosen=text, rejected=render_answer(rejected), feedback=seg.text,
            chosen_has_text=bool(text), rejected_has_text=has_text(rejected), rejected_joined=joined,
            confidence=seg.confidence, feedback_typed=seg.typed, made_by=llm.made_by,
            feedback_answer=prose_head(seg.answer)))
    return out


def _row(c: Candidate) -> tuple:
    passed = [f for f in FILTER_NAMES if f not in c.failed]
    return (c.pair_id, c.session_id, c.role_name, c.feedback_msg_id, c.rejected_msg_id, c.chosen_msg_id,
            json.dumps(c.prompt, ensure_ascii=False),
            json.dumps([{"role": "assistant", "content": c.chosen}], ensure_ascii=False),
            json.dumps([{"role": "assistant", "content": c.rejected}], ensure_ascii=False),
            c.feedback, c.method, json.dumps(passed), json.dumps(c.failed), not c.failed, c.made_by)


METHODS = ("next_attempt", "branches")  # offline, the default
PAID_METHODS = ("rewrite",)  # needs an LLM (the anthropic backend)


def collect_candidates(con: duckdb.DuckDBPyConnection, methods: tuple[str, ...] = METHODS,
                       prompt_chars: int = PROMPT_CHARS, keep_superseded: bool = False,
                       **rewrite_opts: Any) -> tuple[list[Candidate], dict[str, int]]:
    """Every candidate pair of the vault and the skip counts. `keep_superseded` (for evaluation) also
    returns the pairs of a correction chain's earlier links, failing `chosen_corrected_later`."""
    roles = session_roles(con)
    skipped = {"no_request": 0, "no_rejected_answer": 0, "superseded_by_chain": 0, "not_accepted": 0}
    cands: list[Candidate] = []
    if "next_attempt" in methods:
        for sid, segs in load_segments(con).items():
            cands += next_attempt_candidates(segs, sid, roles.get(sid), prompt_chars, skipped, keep_superseded)
    if "branches" in methods:
        cands += branch_candidates(con, roles, prompt_chars)
    if "rewrite" in methods:
        cands += rewrite_candidates(con, roles, prompt_chars, skipped=skipped, **rewrite_opts)
    return cands, skipped


def build_pairs(con: duckdb.DuckDBPyConnection, method: str | tuple[str, ...] = METHODS,
                prompt_chars: int = PROMPT_CHARS, llm=None, confirm=None, yes: bool = False,
                **filter_opts: Any) -> dict[str, Any]:
    """Rebuild the `pairs` table (review rows are kept: they live in `reviews`); returns a report.

    `method`: "next_attempt", "branches" (the offline default, both) and/or "rewrite" (needs `llm`,
    a miner.llm.LLM, and `yes` or `confirm(plan)`; see `rewrite_candidates`).
    """
    methods = (method,) if isinstance(method, str) else tuple(method)
    unknown = [m for m in methods if m not in METHODS + PAID_METHODS]
    if unknown:
        raise ValueError(f"unknown pair method(s) {unknown}; known: {', '.join(METHODS + PAID_METHODS)}")
    if "rewrite" in methods and llm is None:
        raise ValueError("the rewrite method needs an LLM (miner.llm.make_llm: Anthropic or an OpenAI-compatible endpoint)")
    opts = FilterOptions(**filter_opts)
    extra = {"llm": llm, "confirm": confirm, "yes": yes} if "rewrite" in methods else {}
    cands, skipped = collect_candidates(con, methods, prompt_chars, **extra)
    failed = apply_filters(cands, opts)
    replace_pairs(con, [_row(c) for c in cands])
    by_method: dict[str, int] = {}
    for c in cands:
        by_method[c.method] = by_method.get(c.method, 0) + 1
    return {"corrections": count_corrections(con), "pairs": len(cands), "kept": sum(not c.failed for c in cands),
            "by_method": by_method, "filters_failed": failed, "skipped": skipped,
            "options": {"prompt_chars": prompt_chars, **opts.__dict__}}
