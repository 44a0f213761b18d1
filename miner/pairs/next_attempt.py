"""Method `next_attempt`: for each correction, rejected = the answer the person reacted to (read back across
interrupts and retries to its request), chosen = the assistant's answer after the feedback, used only when the
person then moved on. A chosen that is corrected again is superseded: a chain of corrections yields one pair,
from the last rejected attempt to the accepted one."""

from __future__ import annotations

from miner.classify.base import INITIAL_REQUEST, NEW_REQUEST, POSITIVE_FEEDBACK, REATTEMPT_WITH_FEEDBACK
from miner.filters import Candidate
from miner.pairs.prompt import build_prompt, has_text, prose_head, render_answer
from miner.pairs.rows import pair_id
from miner.pairs.segments import Part, Segment

ACCEPTING = frozenset({POSITIVE_FEEDBACK, NEW_REQUEST, INITIAL_REQUEST})  # the person moved on


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


def _through(segs: list[Segment], k: int) -> list[Segment]:
    """segs[k] and the see-through turns (interrupts, "continue") right after it: one answer."""
    out = [segs[k]]
    while k + 1 < len(segs) and segs[k + 1].see_through:
        k += 1
        out.append(segs[k])
    return out
