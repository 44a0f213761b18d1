"""Method `rewrite` (opt-in, paid): the rejected answer rewritten by an LLM to follow the feedback and the role's
persona (RLHI's User-Guided Rewrite). The answer's schema (pydantic) is loaded only when a rewrite is asked."""

from __future__ import annotations

import duckdb

from miner.filters import Candidate
from miner.pairs.next_attempt import corrections
from miner.pairs.prompt import PROMPT_CHARS, build_prompt, has_text, prose_head, render_answer
from miner.pairs.rows import pair_id
from miner.pairs.segments import load_segments
from miner.quality import strip_flattery
from miner.render import TOOL_DETAIL_CHARS
from miner.tables import load_personas

REWRITE_PROMPT_VERSION = "rewrite-v2"  # v2: the answer is plain text (v1 asked for JSON)
REWRITE_SYSTEM = (
    "You improve an AI assistant's answer that its user corrected. You get the conversation so far, the "
    "answer the user rejected and the user's feedback on it. Write the answer the assistant should have given "
    "in the first place: do what the feedback asks, respect the user's standing preferences, keep what was "
    "right, use the same form (tool calls stay one line each, as `[Tool] argument`), and do not mention the "
    "feedback or that this is a rewrite. Reply with the improved answer only, nothing before or after it.")
REWRITE_MIN_TOKENS = 64  # a rewrite's output bound never goes below this


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
    from miner.pairs.rewrite_answer import RewriteAnswer

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
