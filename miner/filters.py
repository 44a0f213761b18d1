"""Quality filters for preference pairs: each one named, counted and stored per pair.

The RLHI paper found that filtering is what makes mined pairs useful, so every filter is a
small named check with its threshold in `FilterOptions`; a pair is kept when it passes all.
Per-pair checks live in `CHECKS`; `duplicate` needs every pair at once (`mark_duplicates`).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from miner import quality
from miner.classify.after import acknowledges

GATE_CONFIDENCE = 0.7
CORRECTION_METHODS = frozenset({"next_attempt", "rewrite"})  # pairs anchored on a correction turn


@dataclass(frozen=True)
class FilterOptions:
    min_chars: int = 10  # chosen and rejected each at least this long (too_short)
    max_chars: int = 8000  # chosen and rejected each at most this long (too_long)
    near_identical: float = 0.95  # difflib ratio of chosen vs rejected above which they are the same
    compare_chars: int = 4000  # ratio computed on this prefix: difflib is quadratic
    # Correction gate: the miner's confidence in `reattempt_with_feedback` below which a turn is not
    # paired (hand labels and review relabels have none and pass). See docs/datasets.md "Correction gate".
    gate_confidence: float = GATE_CONFIDENCE


@dataclass
class Candidate:
    """A pair before storage: what the filters look at."""

    pair_id: str
    session_id: str
    role_name: str | None
    method: str
    feedback_msg_id: str | None
    rejected_msg_id: str | None
    chosen_msg_id: str | None
    prompt: list[dict]
    chosen: str
    rejected: str
    feedback: str
    chosen_has_text: bool = True
    rejected_has_text: bool = True
    chosen_interrupted: bool = False  # the person interrupted or retried the chosen answer
    chosen_corrected: bool = False  # the person's next turn is labelled a correction of the chosen answer (a chain)
    rejected_joined: bool = False  # the rejected answer spans a human turn (an interrupt or a retry)
    confidence: float | None = None  # the miner's confidence in the correction label (None: hand or review)
    feedback_typed: bool = True  # the feedback is text a person typed (not hook, tool or command text)
    made_by: str = "person"  # who wrote the chosen answer: the person's session, or an LLM backend (rewrites)
    # Look-ahead (next_attempt): the person's turn after the chosen answer and the head of the assistant's answer
    # to it (its visible prose, ""  when it said nothing). None: the session ends after the chosen answer (or unknown).
    turn_after: str | None = None
    answer_after: str | None = None
    # The head of the assistant's own answer right after the feedback (a next attempt's chosen answer; for a rewrite,
    # the answer the session had). Acknowledging a mistake there ("You're right ... let me fix") is evidence the
    # feedback corrected the answer before it. None: unknown.
    feedback_answer: str | None = None
    failed: list[str] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [m["content"] for m in self.prompt] + [self.chosen, self.rejected, self.feedback or ""]


def _differs(a: str, b: str, n: int, threshold: float) -> bool:
    """difflib ratio of the first n chars <= threshold. The cheap upper bounds decide most pairs
    (ratio <= quick_ratio <= real_quick_ratio); the quadratic ratio runs only when they cannot."""
    m = difflib.SequenceMatcher(None, a[:n], b[:n], autojunk=False)
    return m.real_quick_ratio() <= threshold or m.quick_ratio() <= threshold or m.ratio() <= threshold


def _secret_findings(texts: list[str]) -> list[Any]:
    # Secrets only: e-mails and home paths are redacted on export but do not disqualify a pair
    # (agent transcripts are full of home paths).
    r = _redactor()
    return [f for t in texts if t for f in r.secrets(t)]


_REDACTOR = None


def _redactor():
    global _REDACTOR
    if _REDACTOR is None:
        from vault.redact import Redactor

        _REDACTOR = Redactor()
    return _REDACTOR


def _gate(check: Callable[[Candidate, FilterOptions], bool]) -> Callable[[Candidate, FilterOptions], bool]:
    """A correction-gate check: it applies to pairs anchored on a correction, not to branch pairs."""
    return lambda c, o: c.method not in CORRECTION_METHODS or check(c, o)


# name -> check(candidate, options) -> True when the pair passes. The gate_* checks come first:
# they decide whether the feedback is a correction at all (miner.quality).
CHECKS: dict[str, Callable[[Candidate, FilterOptions], bool]] = {
    "gate_confidence": _gate(lambda c, o: c.confidence is None or c.confidence >= o.gate_confidence
                             or acknowledges(c.feedback_answer)),
    "gate_not_typed": _gate(lambda c, o: c.feedback_typed),
    "gate_status_question": _gate(lambda c, o: not quality.is_status_question(c.feedback)),
    "gate_pasted_failure": _gate(lambda c, o: not quality.is_pasted_failure(c.feedback)),
    "gate_outcome_report": _gate(lambda c, o: not quality.is_outcome_report(c.feedback)),
    "across_human_turn": lambda c, o: not c.rejected_joined,
    "sycophantic_opener": lambda c, o: not quality.flattery(c.chosen),
    "reply_to_feedback": lambda c, o: c.method != "next_attempt" or not quality.replies_to_feedback(c.chosen),
    "feedback_question": lambda c, o: c.method != "next_attempt" or not quality.is_question(c.feedback),
    "feedback_facts": lambda c, o: c.method != "next_attempt" or not quality.feedback_only_facts(
        c.feedback, c.chosen, [m["content"] for m in c.prompt] + [c.rejected]),
    "empty": lambda c, o: bool(c.chosen.strip()) and bool(c.rejected.strip()),
    "near_identical": lambda c, o: _differs(c.chosen.strip(), c.rejected.strip(), o.compare_chars, o.near_identical),
    "too_short": lambda c, o: min(len(c.chosen.strip()), len(c.rejected.strip())) >= o.min_chars,
    "too_long": lambda c, o: max(len(c.chosen), len(c.rejected)) <= o.max_chars,
    "chosen_corrected_later": lambda c, o: not (c.chosen_interrupted or c.chosen_corrected),
    "acknowledged_after": lambda c, o: c.method != "next_attempt" or not acknowledges(c.answer_after),
    "tool_only": lambda c, o: c.chosen_has_text and c.rejected_has_text,
    "secrets": lambda c, o: not _secret_findings(c.texts()),
}
FILTER_NAMES: tuple[str, ...] = (*CHECKS, "duplicate")
# One line per filter, for the dataset card.
FILTER_DOCS: dict[str, str] = {
    "gate_confidence": f"correction gate: the miner's confidence in the correction label is below the threshold "
                       f"(default {GATE_CONFIDENCE}; hand labels and review relabels pass) and the assistant's answer "
                       f"right after the feedback does not acknowledge a mistake (\"You're right ... let me fix\")",
    "gate_not_typed": "correction gate: the feedback is not text a person typed (hook, tool or command text)",
    "gate_status_question": "correction gate: the feedback is a status question (\"is it done?\"), not a correction",
    "gate_pasted_failure": "correction gate: the feedback is pasted tool output (traceback, failing run) with few "
                           "words of the person's own: debugging follows, not a better answer",
    "gate_outcome_report": "correction gate: the feedback only reports an outcome (\"spinning\", \"nope\", \"now the "
                           "button does nothing\") without saying what to do differently: debugging follows",
    "across_human_turn": "the rejected answer would join assistant turns across a human turn (an interrupt or retry)",
    "sycophantic_opener": "the chosen answer (or its first prose after tool calls) opens with flattery "
                          "(\"You're absolutely right\", \"Great catch\"); rewrites have it stripped instead",
    "reply_to_feedback": "same-prompt check (next_attempt): the chosen answer replies to the feedback "
                         "(\"Got it\", \"Let me fix that\") instead of answering the prompt",
    "feedback_question": "same-prompt check (next_attempt): the feedback ends with a question, so the next answer "
                         "answers it (\"No, I should have checked ...\") rather than the prompt",
    "feedback_facts": "same-prompt check (next_attempt): the chosen answer uses a fact (path, number, name, quote) "
                      "found only in the feedback",
    "empty": "chosen or rejected is empty",
    "near_identical": "chosen and rejected are nearly the same text",
    "too_short": "chosen or rejected is too short",
    "too_long": "chosen or rejected is too long",
    "chosen_corrected_later": "the chosen answer was interrupted, retried or corrected before the person moved on",
    "acknowledged_after": "(next_attempt) the assistant's answer to the person's turn after the chosen answer "
                          "acknowledges a mistake (\"You're right\", \"let me fix\"): the chosen answer was corrected",
    "tool_only": "chosen or rejected has tool calls but no text",
    "secrets": "a secret anywhere in the pair",
    "duplicate": "the same feedback on the same rejected answer already made a pair in another session",
}


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s or "").strip().lower()


def mark_duplicates(cands: list[Candidate]) -> None:
    """The same feedback on the same rejected answer in another session (copied or resumed): keep the first."""
    first: dict[str, str] = {}  # key -> session of its first pair
    for c in cands:
        key = hashlib.sha1(f"{c.method}\0{_norm(c.feedback)}\0{_norm(c.rejected)}".encode()).hexdigest()
        if first.setdefault(key, c.session_id) != c.session_id:
            c.failed.append("duplicate")


def apply_filters(cands: list[Candidate], opts: FilterOptions | None = None) -> dict[str, int]:
    """Run every filter on every candidate (in order); returns how many pairs each one failed."""
    opts = opts or FilterOptions()
    for c in cands:
        c.failed = [name for name, check in CHECKS.items() if not check(c, opts)]
    mark_duplicates(cands)
    return {name: sum(name in c.failed for c in cands) for name in FILTER_NAMES}
