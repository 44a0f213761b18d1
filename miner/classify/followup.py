"""Feature families for corrections the cue words miss (found reading the leave-one-author-out errors).

Each family is a pure function of the turn's text and the answer before it; `features.vector` appends
them after the context family. Names are `<family>:<feature>`.

- `report`: an observation reported after the assistant claimed success, with no negative cue word:
  "well, now I get a 401 unauthorized", "logread not working", "failure; look at the output", a pasted
  terminal or HTTP response.
- `handoff`: the assistant handed the work back ("Run that and let me know", "I won't execute that
  command myself") and the person pushes it back ("you run it", "why won't you run it?").

Two more families were built and measured the same way and lost (leave-one-author-out F1 -0.03 each,
docs/mining.md; their code is at commit 0c548c4): `restate` (word overlap with the previous request
and with the answer: a modified re-send, a change asked in the answer's terms) and `change` (modal
statements "X should be ...", adjustments "too fast", "bigger", praise with a "but", "... too").

Priors (the log-odds towards a correction the regression starts from and is pulled towards) are set in
`PRIOR` by what each feature means, not fitted; the regression moves them where the data disagrees.
"""

from __future__ import annotations

import re

from miner.classify.cues import lowered_pattern

ANSWER_TAIL = 1500  # characters of the answer's end read for a hand-off ("run that and let me know")


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

NAMES = ["report:failure", "report:observed", "report:output", "report:claimed_x_report",
         "handoff:answer", "handoff:you_do", "handoff:pushback"]
FAMILIES = ("report", "handoff")

# Prior log-odds towards a correction, in raw feature units, set from what each feature means (a strong
# reading when it fires in the context it describes, a weak one on its own), before any figure was seen.
PRIOR = {"report:failure": 0.6, "report:observed": 0.8, "report:claimed_x_report": 1.5,
         "handoff:you_do": 0.6, "handoff:pushback": 1.5}


def vector(text: str, lower: str, answer: str, claimed: bool) -> list[float]:
    """The families' features in `NAMES` order. `lower` is text.lower(); `answer` the answer before (may be
    ""); `claimed`: the answer claimed success (features.py's `ctx:claimed_done`)."""
    failure = _FAILURE.search(lower) is not None
    observed = _OBSERVED.search(lower) is not None
    output = _OUTPUT.search(text) is not None
    report = failure or observed or output

    handoff = bool(answer) and _HANDOFF.search(answer[-ANSWER_TAIL:].lower()) is not None
    you_do = _YOU_DO.search(lower) is not None
    return [float(failure), float(observed), float(output), float(claimed and report),
            float(handoff), float(you_do), float(handoff and you_do)]
