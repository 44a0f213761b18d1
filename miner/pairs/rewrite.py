"""Method `rewrite` (opt-in, paid): the rejected answer rewritten by an LLM to follow the feedback and the role's
persona (RLHI's User-Guided Rewrite). The answer's schema (pydantic) is loaded only when a rewrite is asked."""

from __future__ import annotations

import hashlib
import json
import re

import duckdb

from miner.filters import Candidate
from miner.pairs.next_attempt import corrections
from miner.pairs.prompt import PROMPT_CHARS, build_prompt, has_text, prose_head, render_answer
from miner.pairs.rows import pair_id
from miner.pairs.segments import Part, load_segments
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


def answer_identity(rejected: list[Part]) -> str:
    """What the rejected answer is, not how it is shown: each part's message id, kind and source (a tool call: its
    name and stored input; else its text), hashed. A rewrite's cache key holds this instead of the rendered answer,
    so a change of rendering (`(1 lines)` became `(1 line)`) does not pay again for the same answer, and a changed
    message does. A tool call without a stored input is known by its one-line stub."""
    parts = [[p.msg_id, p.kind, p.tool, p.tool_input if p.tool is not None and p.tool_input is not None else p.text]
             for p in rejected]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode()).hexdigest()


# The rendered singulars of the twelfth session (miner.render._count): `(1 line)` was `(1 lines)`, and so on.
_SINGULAR = re.compile(r"\((1 (?:more (?:diff )?)?line|1 edit)\)")


def _older_keys(llm, system: str, feedback_msg_id: str, feedback: str, shown: str) -> list[str]:
    """The keys a rewrite of this correction was cached under before `rewrite_key`: the rendered rejected answer as
    it is rendered now, and as it was before its singular counts (`(1 lines)`), each with its output bound."""
    out = []
    for text in dict.fromkeys((shown, _SINGULAR.sub(r"(\1s)", shown))):
        out.append(llm.cache_key(system, feedback_msg_id, text, feedback,
                                 f"max_tokens={rewrite_tokens(text, llm.max_tokens)}"))
    return out


def rewrite_key(system: str, feedback_msg_id: str, rejected: list[Part], feedback: str, budget: int, tokens: int,
                cap: int) -> list[str]:
    """The cache key parts of a rewrite: the instructions, the correction, what the rejected answer is
    (`answer_identity`, not its rendering), the prompt budget, and the output bound only when the cap set it (a
    rewrite cut by a cap is asked again when the cap changes; the bound from the answer's length is left out: it
    moves with the rendering)."""
    bound = f"max_tokens={cap}" if tokens >= cap else "max_tokens=answer"
    return [system, feedback_msg_id, "answer:" + answer_identity(rejected), feedback, f"prompt_chars={budget}", bound]


def rewrite_candidates(con: duckdb.DuckDBPyConnection, roles: dict[str, str], budget: int, llm,
                       confirm=None, yes: bool = False, skipped: dict[str, int] | None = None) -> list[Candidate]:
    """One pair per correction: chosen = the LLM's rewrite of the rejected answer (RLHI's User-Guided Rewrite).

    `llm` is a `miner.llm.LLM` (texts are redacted before sending, answers cached in llm_cache).
    Something to pay for needs `yes` or `confirm(plan)` returning True; otherwise nothing is sent.
    """
    from miner.llm.cache import adopt
    from miner.pairs.rewrite_answer import RewriteAnswer

    skipped = skipped if skipped is not None else {}
    personas = {p["role_name"]: p["text"] for p in load_personas(con) if p["text"]}
    bases, reqs, older = [], [], {}
    for sid, segs in load_segments(con).items():
        for i, j, rejected, joined in corrections(segs, {"no_request": 0, "no_rejected_answer": 0}):
            prompt, seg, role = build_prompt(segs, j, budget), segs[i], roles.get(sid)
            system = REWRITE_SYSTEM + (f"\n\nThe user's standing preferences:\n{personas[role]}"
                                       if role in personas else "")
            bases.append((sid, role, seg, joined, rejected, prompt))
            # Tool calls rendered within the budget's share for detail (command, file, bounded diff).
            shown = render_answer(rejected, min(TOOL_DETAIL_CHARS, budget // 2))
            tokens = rewrite_tokens(shown, llm.max_tokens)
            req = llm.request(system, _rewrite_user(prompt, shown, seg.text, budget),
                              rewrite_key(system, seg.msg_id, rejected, seg.text, budget, tokens, llm.max_tokens),
                              max_tokens=tokens)
            reqs.append(req)
            older[req.key] = _older_keys(llm, system, seg.msg_id, seg.text, shown)
    adopt(llm.con, older)  # rewrites cached before the key was stable are kept, not paid again
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
