"""Feature families for corrections the cue words miss (found reading the leave-one-author-out errors).

Each family is a pure function of the turn's text, the answer before it and the person's previous
request; `features.vector` appends them after the context family. Names are `<family>:<feature>`.

- `restate`: the person repeats their previous request, modified ("You are auditing ..." sent again
  with more constraints), or words the turn in the answer's own terms (a change asked to what was
  just delivered: "The presets should display the input/output costs" after an answer about presets).
  Word-set overlaps of content words, no model.
- `report`: an observation reported after the assistant claimed success, with no negative cue word:
  "well, now I get a 401 unauthorized", "logread not working", "failure; look at the output", a pasted
  terminal or HTTP response.
- `handoff`: the assistant handed the work back ("Run that and let me know", "I won't execute that
  command myself") and the person pushes it back ("you run it", "why won't you run it?").
- `change`: a change asked to the delivered artefact without a negative word: a modal statement about
  it ("Cents and dollars should both be shown with ..."), an adjustment ("the ball moves way too fast",
  "make the paddles a bit bigger"), praise with a "but", something pointed out as missing ("... have
  >128,000 prices too").

Priors (the log-odds towards a correction the regression starts from and is pulled towards) are set in
`PRIOR` by what each feature means, not fitted; the regression moves them where the data disagrees.
"""

from __future__ import annotations

import re

from miner.classify.cues import lowered_pattern

ANSWER_TAIL = 1500  # characters of the answer's end whose words a turn may reuse (what was just delivered)
MIN_WORDS = 3  # fewer content words than this: overlaps say nothing

_WORDS = re.compile(r"[a-z][a-z0-9_'-]{2,}")
_STOP = frozenset("""
the and for you your are was were this that these those with from have has had not but can could would should
will what when where which who why how its it's all any some into onto out about also just then than there
their them they our ours please lets let's now want need make like get got one two too very more less use using
sure okay yes yeah thanks thank here does did done don't doesn't didn't isn't aren't won't can't i'm i've i'd
we're we've you're you've it's that's there's what's let's she him her his own same other each both only
""".split())


def content_words(lower: str) -> set[str]:
    """Words of three letters or more that are not function words, from lowercased text."""
    return {w.strip("'-") for w in _WORDS.findall(lower)} - _STOP


def cover(part: set[str], whole: set[str]) -> float:
    """Share of `part` found in `whole` (0 when `part` has too few words to say anything)."""
    return len(part & whole) / len(part) if len(part) >= MIN_WORDS else 0.0


# -- report ---------------------------------------------------------------------------------------------
_FAILURE = lowered_pattern(
    r"\b(?:not working|no longer|failed|failure|failing|fails|issues?|problems?|unauthori[sz]ed|forbidden|"
    r"denied|timed? ?out|timeout|(?:can'?t|cannot|could not|couldn'?t) be|unable to|nothing (?:happens|changed)|"
    r"gone|disappeared|missing|empty|blank|[45]0\d)\b")
_OBSERVED = lowered_pattern(
    r"\A\W*(?:(?:well|ok|okay|hmm+|so|but|and|now)[,.;]?\s+)*now,?\s+(?:i|it|the|this|that|there|we|my|nothing|"
    r"every\w*|all|when)\b|\bi(?:'m| am) (?:now |still )?(?:getting|seeing)\b|\bi (?:now )?(?:get|see|got)\b|"
    r"\b(?:it|this|that) (?:now )?(?:says|shows|gives|returns|prints|outputs|just)\b|\A\W*(?:failure|failed|error)\b")
# A paste of a terminal or HTTP exchange: a shell prompt, a response body, a status line.
_OUTPUT = re.compile(r"^\s*(?:\S+@\S+ [^\n]{0,40}[%$#] |\$ |> |PS [A-Z]:\\)|\bResponse:|\"(?:code|msg|status|detail)\"\s*:|"
                     r"\bHTTP/\d|\b(?:Status|status)\W{0,3}[45]\d\d\b", re.MULTILINE)

# -- handoff ---------------------------------------------------------------------------------------------
_HANDOFF = lowered_pattern(
    r"\b(?:run (?:this|that|it|these|the (?:following|command))|you(?:'ll| will)? need to (?:run|manually|do)|"
    r"i (?:won'?t|can'?t|cannot|am unable to|'m unable to|'m not able to|am not able to|don'?t have (?:access|permission)) "
    r"(?:run|execute|do|access|quit|restart|exit|read|open|use)|you(?:'re| are) welcome to|manually|"
    r"on your (?:end|machine|side)|copy (?:this|that|the) command|paste (?:it|that|this|the)|"
    r"(?:please )?let me know (?:what|if|how|whether)|tell me what (?:happen|you see)|"
    r"you can (?:now )?(?:run|try|test|ssh|open|use)|from your terminal|in your terminal)\b")
_YOU_DO = lowered_pattern(
    r"\A\W*(?:you|u) (?:(?:can|should|could|need to|must|just|have to) )?(?:run|do|try|check|fix|execute|"
    r"figure|handle|make|read|restart|request|install|find|look)\b|\byourself\b|\bwhy (?:won'?t|can'?t|don'?t|"
    r"didn'?t|wouldn'?t|aren'?t) you\b|\bcan'?t you\b|\bi(?:'m| am) (?:confident|sure) (?:that )?you can\b")

# -- change ----------------------------------------------------------------------------------------------
_MODAL = lowered_pattern(
    r"\b[\w'-]+ (?:should|must|needs? to|has to|ought to)(?: (?:all|both|also|only|always|never|not|still|"
    r"really|just|probably|actually))? (?:be|start|show|sit|display|use|have|look|read|say|go|appear|stay|"
    r"include|contain|match|update|work|come|run|point|live|default)\b")
_ADJUST = lowered_pattern(
    r"\b(?:(?:way |much |far )?too (?!many\b|much\b)[a-z]{3,}|a (?:bit|little|lot|tad) (?:more|less|\w+er)\b|"
    r"(?:bigger|smaller|larger|faster|slower|wider|narrower|darker|lighter|brighter|thicker|thinner|"
    r"shorter|longer|louder|quieter|smoother)\b)")
_PRAISE_BUT = lowered_pattern(r"\b(?:works?|worked|nice|good|great|cool|ok|okay|thanks|perfect|better)\b[^?\n]{0,40}\bbut\b")
_ALSO_MISSING = lowered_pattern(r"\b(?:too|as well|also)\W*\Z|\b(?:forgot|missing|left out|also needs?|"
                                r"what about the)\b")

NAMES = ["restate:prev_cover", "restate:own_cover", "restate:modified", "restate:answer_cover",
         "report:failure", "report:observed", "report:output", "report:claimed_x_report",
         "handoff:answer", "handoff:you_do", "handoff:pushback",
         "change:modal", "change:adjust", "change:praise_but", "change:also_missing", "change:about_answer"]
FAMILIES = ("restate", "report", "handoff", "change")

# Prior log-odds towards a correction, in raw feature units, set from what each feature means (a strong
# reading when it fires in the context it describes, a weak one on its own), before any figure was seen.
PRIOR = {"restate:modified": 1.2, "restate:answer_cover": 0.8,
         "report:failure": 0.6, "report:observed": 0.8, "report:claimed_x_report": 1.5,
         "handoff:you_do": 0.6, "handoff:pushback": 1.5,
         "change:modal": 0.8, "change:adjust": 0.8, "change:praise_but": 1.2, "change:also_missing": 0.6,
         "change:about_answer": 0.8}


def vector(text: str, lower: str, answer: str, prev_typed: str | None, claimed: bool, resend: float,
           question: bool) -> list[float]:
    """The four families' features in `NAMES` order. `lower` is text.lower(); `answer` the answer before
    (may be ""); `claimed`: the answer claimed success; `resend`: the re-send similarity already computed
    (a near-verbatim re-send is not a modified restatement); `question`: the turn asks something."""
    own = content_words(lower)
    prev = content_words(prev_typed.lower()) if prev_typed else set()
    tail = answer[-ANSWER_TAIL:].lower() if answer else ""
    said = content_words(tail) if tail else set()
    prev_cover, own_cover = cover(prev, own), cover(own, prev)
    modified = prev_cover >= 0.6 and resend < 0.9 and len(own) > len(prev)
    answer_cover = cover(own, said)

    failure = _FAILURE.search(lower) is not None
    observed = _OBSERVED.search(lower) is not None
    output = _OUTPUT.search(text) is not None
    report = failure or observed or output

    handoff = bool(tail) and _HANDOFF.search(tail) is not None
    you_do = _YOU_DO.search(lower) is not None

    modal = not question and _MODAL.search(lower) is not None
    adjust = _ADJUST.search(lower) is not None
    praise_but = _PRAISE_BUT.search(lower) is not None
    missing = _ALSO_MISSING.search(lower) is not None
    about = (modal or adjust or missing) and answer_cover >= 0.3
    return [prev_cover, own_cover, float(modified), answer_cover,
            float(failure), float(observed), float(output), float(claimed and report),
            float(handoff), float(you_do), float(handoff and you_do),
            float(modal), float(adjust), float(praise_but), float(missing), float(about)]
