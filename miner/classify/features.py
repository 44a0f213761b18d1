"""Features of a human-side turn for the learned classifier, in named families.

- `cue`: each cue family of cues.py fired or not (their hand weights are not used: the model
  learns its own), plus how many correction cues fired;
- `shape`: the text itself (length, question, pasted code or log, first words);
- `context`: the assistant's answer just before (it claimed success, asked a question, ended on a
  tool error, was interrupted; this is the first turn after an interrupt; similarity of this
  request to the previous one) and a few interactions a linear model cannot form by itself;
- `report`, `handoff`, `revise` (followup.py): a failure observed after a claim of success, work handed back,
  a restructuring or a standing instruction asked of what was just delivered;
- `after` (after.py): what the assistant did right after the turn: its next answer acknowledging a mistake,
  announcing a fix, starting something new, its tool calls redoing the answer before;
- `embedding` (optional): sentence embeddings of the turn, and of the turn with the assistant's
  last message, computed elsewhere (miner.classify.vectors) and passed in.

`vector(turn)` returns the non-embedding features as floats in `NAMES` order; it runs a few
dozen regexes per turn and no model, so it stays cheap (see bench/mine_bench.py).
"""

from __future__ import annotations

import math
import re

from miner.classify import after as AF
from miner.classify import cues as C
from miner.classify import followup as FU
from miner.classify.base import Turn
from miner.classify.heuristic import (RESEND_RATIO, HeuristicClassifier, _normalise, _said_nothing,
                                     extends_normalised, normalised_similarity)
from vault.model import Kind

TAIL_CLAIM = 600  # characters of the answer's end searched for a claim of success
TAIL_ASK = 400  # ... and for a question to the person
RESEND_LOOKBACK = 3
CUE_CHARS = 2000

# Case-insensitive patterns are matched on the text lowercased once (C.lowered_pattern: re is twice as
# fast without IGNORECASE); _CODE and _PATH_OR_URL are case-sensitive and read the text itself.
_QUESTION_START = C.lowered_pattern(r"\A\W*(?:what|why|how|where|when|which|who|is|are|does|do|did|can|could|"
                                    r"should|would|will|have|has)\b")
_CODE = re.compile(r"```|^\s{4,}\S|^\s*(?:at |File \")|^\s*[{[]\s*$|\$ \w", re.MULTILINE)
_PATH_OR_URL = re.compile(r"https?://|(?:^|\s)[\w.-]*/[\w./-]+|\w+\.(?:py|js|ts|tsx|go|rs|md|json|ya?ml|toml|sh)\b")
_SECOND_PERSON = C.lowered_pattern(r"\byou(?:'re|'ve| are| have| did| were)?\b")
_FIRST_PERSON = C.lowered_pattern(r"\b(?:i|i'm|i've|me|my)\b")
_NEGATION = C.lowered_pattern(r"\b(?:not|no|never|n't|nothing|none)\b|n't\b")

# (cue, the bound regex method that decides it): a plain loop over these is C.fired without a call per cue.
_CORRECTION_FINDERS = [(c, getattr(c.lowered or c.pattern, "match" if c.anchored else "search"))
                       for c in C.CORRECTION_CUES]

CUE_NAMES = [f"cue:{c.name}" for c in C.CORRECTION_CUES] + ["cue:error_text"] + \
            [f"cue:answer_{c.name}" for c in C.ANSWER_CUES] + ["cue:praise", "cue:continue", "cue:praise_only",
                                                           "cue:count", "cue:strong"]
SHAPE_NAMES = ["shape:log_words", "shape:long", "shape:one_word", "shape:question_mark", "shape:question_start",
               "shape:code_or_log", "shape:log_lines", "shape:path_or_url", "shape:exclaim", "shape:you",
               "shape:i", "shape:negation", "shape:queued"]
CONTEXT_NAMES = ["ctx:no_answer_before", "ctx:claimed_done", "ctx:asked", "ctx:tool_error", "ctx:after_interrupt",
                 "ctx:after_interrupt_silent", "ctx:extends_own", "ctx:resend_sim", "ctx:resend",
                 "ctx:log_answer_chars",
                 "ctx:answer_tool_calls", "ctx:log_position", "ctx:claimed_x_failure", "ctx:claimed_x_error",
                 "ctx:asked_x_approval", "ctx:asked_x_cue"]
# The `after` family comes last: a model fitted before it (learned-5) reads a prefix of NAMES (learned.Model).
NAMES = CUE_NAMES + SHAPE_NAMES + CONTEXT_NAMES + FU.NAMES + AF.NAMES
FAMILIES = ("cue", "shape", "ctx") + FU.FAMILIES + AF.FAMILIES


def vector(t: Turn) -> list[float]:
    """The cue, shape and context features of `t`, in `NAMES` order.

    Per-turn Python is most of the learned backend's cost (bench/miner_speed.py): each text is
    lowercased and normalised once, and a regex runs only where its answer can change a feature."""
    text = C.plain(t.text.strip())
    if len(text) > CUE_CHARS:  # a long paste: its start and end say what it is; regexes cost its length
        text = text[: CUE_CHARS - 500] + "\n" + text[-500:]
    lower = text.lower()
    words = len(t.text.split())
    corr = [c for c, find in _CORRECTION_FINDERS if find(lower if c.lowered else text) is not None]
    corr_names = {c.name for c in corr}
    answer = C.plain(t.prev_assistant or "")
    error = bool(answer) and C.error_text(text, lower)
    answers = [c.search_lowered(text, lower) for c in C.ANSWER_CUES]
    praise = C.PRAISE.search_lowered(text, lower)
    praise_only = _praise_only(text, words, bool(corr), bool(error))
    cues = [float(c.name in corr_names) for c in C.CORRECTION_CUES] + [float(bool(error))] + \
           [float(a) for a in answers] + [float(praise), float(C.CONTINUE.search_lowered(text, lower)),
                                          float(praise_only), math.log1p(len(corr)),
                                          float(any(c.weight >= 2.4 for c in corr))]

    lines = text.count("\n") + 1
    shape = [math.log1p(words), float(words > 120), float(words <= 1), float("?" in text),
             float(_QUESTION_START.match(lower) is not None), float(_CODE.search(text) is not None),
             math.log1p(lines), float(_PATH_OR_URL.search(text) is not None), float("!" in text),
             float(_SECOND_PERSON.search(lower) is not None), float(_FIRST_PERSON.search(lower) is not None),
             float(_NEGATION.search(lower) is not None), float(t.kind == Kind.QUEUED_PROMPT)]

    claimed = bool(answer) and C.claimed_done_lowered(answer[-TAIL_CLAIM:].lower())
    asked = bool(answer) and C.asked_user_lowered(answer[-TAIL_ASK:].rstrip().lower())
    after_interrupt = t.prev_kind in (Kind.INTERRUPT, Kind.TOOL_REJECTION)
    silent = after_interrupt and _said_nothing(answer)
    tool_calls = answer.count("\n[") + answer.startswith("[")  # rendered tool-call lines, `[Bash] ...`
    earlier = [u for role, u in t.context if role == "user" and u != "[interrupted]"][-RESEND_LOOKBACK:]
    norm = _normalise(text)
    normalised = {u: _normalise(u) for u in earlier or ([t.prev_typed] if t.prev_typed else [])}
    resend = max((normalised_similarity(norm, n) for n in normalised.values()), default=0.0)
    extends = bool(t.prev_typed) and extends_normalised(
        norm, normalised[t.prev_typed] if t.prev_typed in normalised else _normalise(t.prev_typed))
    failure = bool(corr_names & C.FAILURE_CUES)
    ctx = [float(not answer), float(claimed), float(asked), float(t.prev_assistant_error), float(after_interrupt),
           float(silent), float(extends), resend, float(resend >= RESEND_RATIO),
           math.log1p(len(answer)), math.log1p(tool_calls), math.log1p(t.position),
           float(claimed and failure), float(claimed and bool(error)), float(asked and answers[0]),
           float(asked and bool(corr))]
    follow = FU.vector(text, lower, answer, claimed)
    return cues + shape + ctx + follow + AF.vector(t)


def _praise_only(text: str, words: int, cue: bool, error: bool) -> bool:
    """The heuristic's rule for praise and nothing else, skipped where it cannot hold (a cue fired, a
    pasted error, a long text)."""
    return not cue and not error and words <= 12 and HeuristicClassifier._praise_only(text, [])


def praise_only(t: Turn) -> bool:
    """Short praise with nothing else in it ("that works", "it eorks!!!"), as `cue:praise_only` computes it."""
    text = C.plain(t.text.strip())
    words = len(t.text.split())
    if words > 12:
        return False
    error = bool(t.prev_assistant) and bool(C.ERROR_PASTE[0].search(text))
    return _praise_only(text, words, bool(C.fired(C.CORRECTION_CUES, text)), error)


# -- where the correction evidence sits (fifteenth session, errors-cc: the variant cc-scope of variants.py) ------------
# Read in learned-8's false alarms and misses on the tenth set's agent-transcript people (Claude Code, Gemini CLI): a
# cue word met only deep in a long turn (a pasted brief, a design discussion answering the agent's question, "should"
# in a new feature request) was most false alarms; a defect of the delivered work stated in plain words, often with a
# bare negation and no cue word ("i only see a blank window. no othe ui elements show up", vinodkd/vinance), most
# misses. Two columns, a variant's own (not in NAMES: the shipped model reads what it read).
SCOPE_HEAD = 120  # characters of the turn's start: a cue found there is where corrections put them
SCOPE_WINDOW = 200  # characters searched for a cue starting in the head (a cue is a few words: it ends inside)
_CUE_COUNT = NAMES.index("cue:count")
_NEGATED = NAMES.index("shape:negation")
_NO_ANSWER = NAMES.index("ctx:no_answer_before")


def cue_scope(t: Turn, x) -> list[float]:
    """[a correction cue fired and none starts in the turn's first SCOPE_HEAD characters, no correction cue fired and
    the turn holds a negation (shape:negation) after an answer]: where the correction evidence sits relative to the
    cue lists. `x`: the turn's `vector` (its cue count, negation and answer columns are read, not computed again);
    only a turn with a cue is searched again, in its head."""
    cued = x[_CUE_COUNT] > 0
    if not cued:
        return [0.0, float(x[_NEGATED] == 1.0 and x[_NO_ANSWER] == 0.0)]
    text = C.plain(t.text.strip()[:SCOPE_WINDOW])
    lower = text.lower()
    for c, find in _CORRECTION_FINDERS:
        m = find(lower if c.lowered else text)
        if m is not None and m.start() <= SCOPE_HEAD:
            return [0.0, 0.0]
    return [1.0, 0.0]


def family_mask(names: list[str], families: tuple[str, ...]) -> list[bool]:
    """Which of `names` belong to the given families (`emb` for the embedding columns)."""
    return [n.split(":", 1)[0] in families for n in names]
