"""The offline classifier: cue families, turn structure and similarity, combined into a label.

Order of decisions, most certain first:
1. structure: an interrupt, or a tool rejection without a typed reason, is `interrupt`;
   a rejection with a reason is feedback on the call it refused; the first turn of a
   session with no assistant answer before it is `initial_request`;
2. a re-send of the last typed text (near-verbatim, or the same meaning by sentence
   embedding when the vault has them), or a bare "continue" / "try again", is
   `reattempt_without_feedback`;
3. a log-odds score for "this corrects the assistant": cue families (cues.py) plus
   structure (the assistant claimed a fix just before and the person reports a failure;
   the person interrupted and now adds something; the assistant asked a question and this
   is an answer); above zero it is `reattempt_with_feedback`;
4. short praise with nothing else is `positive_feedback`; anything else is `new_request`.

Confidence is a logistic function of the score's distance from the decision boundary,
fitted on labelled real turns (see CALIBRATION): of the turns given 0.9, about nine in ten
were right there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

from miner.classify import cues as C
from miner.classify.base import (
    INITIAL_REQUEST,
    INTERRUPT,
    NEW_REQUEST,
    POSITIVE_FEEDBACK,
    REATTEMPT_WITH_FEEDBACK,
    REATTEMPT_WITHOUT_FEEDBACK,
    Classifier,
    Label,
    Turn,
)
from vault.model import Kind, kinds_sql

VERSION = "heuristic-1"
BIAS = -1.7  # prior log-odds of a correction: most typed turns are new requests
RESEND_RATIO = 0.9  # character similarity above which a text is a re-send of the last one
RESEND_LOOKBACK = 3  # typed turns looked back at for a re-send
RESEND_COSINE = 0.95  # embedding similarity for the same (used when the vault has vectors)
AFTER_INTERRUPT = 1.8  # the person stopped the assistant and now says something new: a redirect
CLAIM_THEN_FAILURE = 1.2  # the assistant said it was fixed / asked to test, the person reports a failure
ASKED_THEN_ANSWER = -0.8  # the assistant asked the person something: a reply is usually an answer
PRAISE_MAX_WORDS = 12
PRAISE_REST_WORDS = 5
LONG_WORDS = 120  # above this, cue words count half
STRONG = 2.4  # a cue this strong is feedback even when the assistant had asked a question
# Logistic calibration of |score| into a confidence: p = 1 / (1 + exp(-(A * |score| + B))), fitted
# (logistic regression) on the 101 scored turns of the corpora's dev labels: expected calibration
# error 0.035 there (5 bins). Structural labels carry fixed confidences.
CALIBRATION = (1.01, 0.38)

_WORD = re.compile(r"[a-z']+")
_PRAISE_WORDS = ("works", "worked", "working", "thanks", "perfect", "great", "awesome", "excellent")


def _typo_fixed(text: str) -> str:
    """Short replies are typed fast: map words one edit away from a praise word onto it ("eorks")."""
    words = text.split()
    if len(words) > PRAISE_MAX_WORDS:
        return text
    out = []
    for w in words:
        core = w.strip("!.,?").lower()
        n = len(core)
        candidates = _PRAISE_NEAR.get((n, core[:2]), ()) + _PRAISE_NEAR.get((n, "~" + core[-2:]), ())
        if candidates:  # in _PRAISE_WORDS order: the first praise word one edit away wins, as it always did
            candidates = sorted(set(candidates), key=_PRAISE_WORDS.index)
        fix = next((p for p in candidates if core != p and _one_edit(core, p)), None)
        out.append(fix if fix else w)
    return " ".join(out)


def _praise_near() -> dict[tuple[int, str], tuple[str, ...]]:
    """(length, first two letters) and (length, "~" + last two) of a word -> the praise words it may be one edit
    away from. A word of 4+ letters one edit away from a word of 5+ shares its first two or its last two letters
    (the edit is at index 2 or later, or it leaves the last two alone), so a word under neither key is not."""
    out: dict[tuple[int, str], tuple[str, ...]] = {}
    for p in _PRAISE_WORDS:
        for n in (len(p) - 1, len(p), len(p) + 1):
            for key in ((n, p[:2]), (n, "~" + p[-2:])):
                if n >= 4 and p not in out.get(key, ()):
                    out[key] = out.get(key, ()) + (p,)
    return out


_PRAISE_NEAR = _praise_near()
assert min(len(p) for p in _PRAISE_WORDS) >= 5  # what _praise_near's reasoning needs


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one substitution, insertion, deletion or adjacent swap."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                   and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    s, t = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(s)) if s[k] != t[k]), len(s))
    return s[i:] == t[i + 1:]


_API_ERROR = re.compile(r"⎿\s*API Error.*", re.DOTALL)


def _normalise(text: str) -> str:
    # Console transcripts append API errors to a re-sent prompt; they are not the person's words.
    return " ".join(_WORD.findall(_API_ERROR.sub("", C.plain(text)).lower()))


RESEND_CHARS = 600  # a re-send is near-verbatim: its start says so, and difflib is quadratic in length


def resend_similarity(a: str, b: str) -> float:
    return normalised_similarity(_normalise(a), _normalise(b))


def normalised_similarity(na: str, nb: str) -> float:
    """`resend_similarity` of two texts already passed through `_normalise` (a caller comparing one text
    with several normalises it once)."""
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    if min(len(na), len(nb)) < RESEND_RATIO * max(len(na), len(nb)):
        return 0.0  # lengths alone rule it out
    sm = SequenceMatcher(None, na[:RESEND_CHARS], nb[:RESEND_CHARS], autojunk=False)
    if sm.real_quick_ratio() < RESEND_RATIO or sm.quick_ratio() < RESEND_RATIO:
        return 0.0
    return sm.ratio()


def _said_nothing(answer: str | None) -> bool:
    """No assistant text since the interruption (tool-call lines, rendered `[Tool] ...`, do not count)."""
    return not answer or all(line.startswith("[") for line in answer.splitlines() if line.strip())


def _extends(text: str, prev: str | None) -> bool:
    """The person re-sends their own cut-off message, completed: it is not about the assistant."""
    if not prev:
        return False
    return extends_normalised(_normalise(text), _normalise(prev))


def extends_normalised(b: str, a: str) -> bool:
    """`_extends` of a text and the previous one, both already passed through `_normalise`."""
    head = a[: max(20, int(len(a) * 0.6))]
    return len(a) >= 20 and b.startswith(head)


def _confidence(score: float) -> float:
    a, b = CALIBRATION
    return round(1.0 / (1.0 + math.exp(-(a * abs(score) + b))), 3)


def structural(t: Turn) -> Label | None:
    """The label structure alone decides (every offline backend's first step), or None."""
    if t.kind == Kind.INTERRUPT or (t.kind == Kind.TOOL_REJECTION and not t.text.strip()):
        return Label(INTERRUPT, 1.0, ["structure: interrupt or rejection without a reason"])
    if t.kind == Kind.TOOL_REJECTION:
        return Label(REATTEMPT_WITH_FEEDBACK, 0.95, ["structure: tool rejected with a typed reason"])
    if t.position == 0 and not any(role == "assistant" for role, _ in t.context) and not t.prev_assistant:
        return Label(INITIAL_REQUEST, 0.95, ["structure: first request of the session"])
    return None


def stored_vectors(con) -> dict[str, Any]:
    """msg_id -> unit vector of its first chunk, for human-side turns, from the active embedding model."""
    from vault.index.embeddings import active_model

    active = active_model(con)
    if active is None:
        return {}
    kinds = kinds_sql(Kind.HUMAN_TYPED)
    rows = con.execute(
        f"""SELECT c.msg_id, v.vector FROM chunks c JOIN vectors v USING (model_id, content_hash)
            JOIN messages m USING (msg_id)
            WHERE c.model_id = ? AND c.chunk_no = 0 AND m.kind IN ({kinds})""",
        [active[0]],
    ).fetchall()
    return dict(rows)


class HeuristicClassifier(Classifier):
    name = "heuristic"
    version = VERSION

    def __init__(self, vectors: Mapping[str, Sequence[float]] | None = None) -> None:
        # msg_id -> unit-norm sentence embedding, when the vault has them (vault embed).
        self.vectors = vectors or {}
        self._vectors_given = vectors is not None

    def prepare(self, con, confirm=None) -> None:
        if not self._vectors_given:
            self.vectors = stored_vectors(con)

    def label(self, turns: Sequence[Turn]) -> list[Label]:
        return [self.label_one(t) for t in turns]

    def label_one(self, t: Turn) -> Label:
        decided = structural(t)
        if decided:
            return decided
        resend = self._resend(t)
        if resend:
            return Label(REATTEMPT_WITHOUT_FEEDBACK, resend[0], [resend[1]])
        score, reasons = self.score(t)
        if score > 0:
            return Label(REATTEMPT_WITH_FEEDBACK, _confidence(score), reasons)
        if self._praise_only(t.text, reasons):
            return Label(POSITIVE_FEEDBACK, 0.85, ["praise with nothing else"])
        return Label(NEW_REQUEST, _confidence(score), reasons or ["no feedback cue"])

    def _resend(self, t: Turn) -> tuple[float, str] | None:
        text = C.plain(t.text.strip())
        if C.CONTINUE.search(text):
            return 0.9, "cue: continue / try again"
        if C.fired(C.ANSWER_CUES[:1], text) and len(text.split()) <= 3:
            return None  # "yes" twice answers two questions; it re-sends nothing
        earlier = [u for role, u in t.context if role == "user" and u != "[interrupted]"][-RESEND_LOOKBACK:]
        for prev in reversed(earlier or ([t.prev_typed] if t.prev_typed else [])):
            sim = resend_similarity(text, prev)
            if sim >= RESEND_RATIO:
                return 0.95, f"structure: re-sends an earlier request (similarity {sim:.2f})"
        va, vb = self.vectors.get(t.msg_id), self.vectors.get(t.prev_typed_id or "")
        if va is not None and vb is not None:
            cos = float(sum(x * y for x, y in zip(va, vb)))
            if cos >= RESEND_COSINE:
                return 0.8, f"similarity: same meaning as the last request (cosine {cos:.2f})"
        return None

    def score(self, t: Turn) -> tuple[float, list[str]]:
        """Log-odds that the turn corrects the assistant's last answer, and the cues behind it."""
        text = C.plain(t.text.strip())
        words = len(text.split())
        reasons: list[str] = []
        corr = sorted(C.fired(C.CORRECTION_CUES, text), key=lambda c: -c.weight)
        # Cues overlap (one sentence can fire three): the strongest counts in full, the rest half.
        # A long message (a spec, a pasted template) holds feedback words by chance more often.
        damp = 1.0 if words <= LONG_WORDS else 0.5
        score = BIAS + damp * sum(c.weight * (1.0 if i == 0 else 0.5) for i, c in enumerate(corr))
        reasons += [f"cue: {c.name}" for c in corr]
        answer_before = bool(t.prev_assistant)
        error = answer_before and any(c.search(text) for c in C.ERROR_PASTE)
        if error:
            score += C.ERROR_PASTE[0].weight  # pasted logs are long by nature: no damping
            reasons.append("cue: error_text")
        claimed = answer_before and C.CLAIMED_DONE.search(C.plain(t.prev_assistant[-600:])) is not None
        if claimed and (error or (words <= LONG_WORDS and any(c.name in C.FAILURE_CUES for c in corr))):
            score += CLAIM_THEN_FAILURE
            reasons.append("structure: failure reported after the assistant claimed success")
        for cue in C.fired(C.ANSWER_CUES, text):
            if cue.name == "approval" and words > 6:
                continue  # "yes, but ..." / "ok, great - one correction": the rest of the message decides
            w = cue.weight
            score += w
            reasons.append(f"false friend: {cue.name}")
        asked = answer_before and C.ASKED_USER.search(C.plain(t.prev_assistant[-400:]).rstrip()) is not None
        if asked and not claimed and not error and not any(c.weight >= STRONG for c in corr):
            score += ASKED_THEN_ANSWER
            reasons.append("structure: answers the assistant's question")
        if (t.prev_kind in (Kind.INTERRUPT, Kind.TOOL_REJECTION) and _said_nothing(t.prev_assistant)
                and not C.fired(C.ANSWER_CUES[:1], text) and not _extends(text, t.prev_typed)):
            score += AFTER_INTERRUPT
            reasons.append("structure: speaks up after interrupting the assistant")
        if t.kind == Kind.QUEUED_PROMPT and corr:
            score += 0.5
            reasons.append("structure: typed while the assistant was working")
        return score, reasons

    @staticmethod
    def _praise_only(text: str, reasons: list[str]) -> bool:
        if any(r.startswith("cue:") for r in reasons):
            return False
        fixed = _typo_fixed(C.plain(text))
        if len(fixed.split()) > PRAISE_MAX_WORDS or not C.PRAISE.search(fixed):
            return False
        # Praise is most of the message: what is left once the praise is removed is a few words at most.
        if len(C.PRAISE.pattern.sub(" ", fixed).split()) > PRAISE_REST_WORDS:
            return False
        # Praise followed by a request is a new request ("great, now add tests").
        return not re.search(r"\?|\b(?:can|could|would) you\b|\bplease\b|\bnext\b|\bnow,?\s+(?:add|do|make|write|let|"
                             r"implement|create|fix|update|change|run|we|i|can|could|please|move|try)\b|\blet'?s\b|\balso\b|"
                             r"\bbut\b|\bnot\b|n'?t\b|\bno\b|\bthough\b",
                             fixed, re.IGNORECASE)
