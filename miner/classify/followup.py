"""Feature families for corrections the cue words miss (found reading the leave-one-author-out errors).

Each family is a pure function of the turn's text and the answer before it; `features.vector` appends
them after the context family. Names are `<family>:<feature>`.

- `report`: an observation reported after the assistant claimed success, with no negative cue word:
  "well, now I get a 401 unauthorized", "logread not working", "failure; look at the output", a pasted
  terminal or HTTP response.
- `handoff`: the assistant handed the work back ("Run that and let me know", "I won't execute that
  command myself") and the person pushes it back ("you run it", "why won't you run it?").
- `revise` (learned-5, found reading the missed corrections of the tuning half of the unseen authors,
  bench/unseen_split.json): what was just delivered asked to be restructured ("move the tests to
  tests/", a request to move code into a file of its own), a standing instruction said again ("Always use
  rustup", "without me telling you"), the delivered code criticised (called clumsy or hard to read). Each
  only after an answer.

Two more families were built and measured the same way and lost (leave-one-author-out F1 -0.03 each,
docs/mining.md; their code is at commit 0c548c4): `restate` (word overlap with the previous request
and with the answer: a modified re-send, a change asked in the answer's terms) and `change` (modal
statements "X should be ...", adjustments "too fast", "bigger", praise with a "but", "... too").

Priors (the log-odds towards a correction the regression starts from and is pulled towards) are set in
`PRIOR` by what each feature means, not fitted; the regression moves them where the data disagrees.
"""

from __future__ import annotations

import re

from miner.classify.cues import found_at_word_start, lowered_pattern

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
_HANDOFF_PHRASES = (
    r"run (?:this|that|it|these|the (?:following|command))", r"you(?:'ll| will)? need to (?:run|manually|do)",
    r"i (?:won'?t|can'?t|cannot|am unable to|'m unable to|'m not able to|am not able to|don'?t have (?:access|permission)) "
    r"(?:run|execute|do|access|quit|restart|exit|read|open|use)", r"you(?:'re| are) welcome to", r"manually",
    r"on your (?:end|machine|side)", r"copy (?:this|that|the) command", r"paste (?:it|that|this|the)",
    r"let me know (?:what|if|how|whether)", r"tell me what (?:happen|you see)",
    r"you can (?:now )?(?:run|try|test|ssh|open|use)", r"from your terminal", r"in your terminal")
_HANDOFF = lowered_pattern(r"\b(?:" + "|".join(_HANDOFF_PHRASES) + r")\b")  # the definition; _handoff is its fast twin
# One pattern per phrase, without the leading \b: a pattern that starts with a literal lets `re` skip ahead to
# it (a leading \b or an alternation makes it try every position: 2.3x slower on real answers). Each runs only on
# an answer holding a literal its every match holds (`in` rejects faster than re's scan; None: "i " is everywhere).
_HANDOFF_LITERALS = ("run ", " need to ", None, " welcome to", "manually", "on your ", " command", "paste ",
                     "let me know ", "tell me what ", "you can ", "from your terminal", "in your terminal")
_HANDOFF_PARTS = tuple(zip(_HANDOFF_LITERALS, (re.compile(p + r"\b") for p in _HANDOFF_PHRASES), strict=True))


def _handoff(lower: str) -> bool:
    """`_HANDOFF.search(lower) is not None`, faster: each phrase found, then the word boundary before it checked."""
    for literal, p in _HANDOFF_PARTS:
        if (literal is None or literal in lower) and found_at_word_start(p, lower):
            return True
    return False


_YOU_DO = lowered_pattern(
    r"\A\W*(?:you|u) (?:(?:can|should|could|need to|must|just|have to) )?(?:run|do|try|check|fix|execute|"
    r"figure|handle|make|read|restart|request|install|find|look)\b|\byourself\b|\bwhy (?:won'?t|can'?t|don'?t|"
    r"didn'?t|wouldn'?t|aren'?t) you\b|\bcan'?t you\b|\bi(?:'m| am) (?:confident|sure) (?:that )?you can\b")

# -- revise ----------------------------------------------------------------------------------------------
_LEAD = (r"(?:\A|[.!?;\n]\s*)\W*(?:(?:ok|okay|now|so|and|also|then|please|pls|let'?s|lets|can you|could you|"
         r"would you|can we|could we)[,.]?\s+)*")
_RESTRUCTURE = lowered_pattern(
    _LEAD + r"(?:please\s+)?(?:move|split|refactor|rename|merge|separate|extract|restructure|reorgani[sz]e|"
    r"flatten|squash|combine|simplify|consolidate|inline|modulari[sz]e|clean up|tidy up|break (?:up|out|down))\b|"
    r"\b(?:can|could|would) (?:you|we) (?:please )?(?:just )?(?:move|split|refactor|rename|merge|separate|extract|"
    r"restructure|reorgani[sz]e|flatten|squash|combine|simplify|consolidate)\b")
_STANDING = lowered_pattern(
    r"(?:\A|[.!?;\n]\s*)\W*(?:please\s+)?(?:always|never|from now on|every time|don'?t ever|do not ever)\b|"
    r"\bwithout (?:me|my) (?:telling|asking|saying|permission|approval|consent)\b")
_CRITIQUE = lowered_pattern(
    r"\b(?:unwieldy|clunky|convoluted|cluttered|hacky|bloated|awkward|not (?:very |really |so )?(?:nice|clean|"
    r"readable|elegant|ideal)|hard to (?:read|follow|understand|maintain)|(?:could|can) be (?:cleaner|simpler|"
    r"more readable))\b")

NAMES = ["report:failure", "report:observed", "report:output", "report:claimed_x_report",
         "handoff:answer", "handoff:you_do", "handoff:pushback",
         "revise:restructure", "revise:standing", "revise:critique"]
FAMILIES = ("report", "handoff", "revise")

# Prior log-odds towards a correction, in raw feature units, set from what each feature means (a strong
# reading when it fires in the context it describes, a weak one on its own), before any figure was seen.
PRIOR = {"report:failure": 0.6, "report:observed": 0.8, "report:claimed_x_report": 1.5,
         "handoff:you_do": 0.6, "handoff:pushback": 1.5,
         "revise:restructure": 0.8, "revise:standing": 1.2, "revise:critique": 1.2}


def vector(text: str, lower: str, answer: str, claimed: bool) -> list[float]:
    """The families' features in `NAMES` order. `lower` is text.lower(); `answer` the answer before (may be
    ""); `claimed`: the answer claimed success (features.py's `ctx:claimed_done`)."""
    failure = _FAILURE.search(lower) is not None
    observed = _OBSERVED.search(lower) is not None
    output = _OUTPUT.search(text) is not None
    report = failure or observed or output

    handoff = bool(answer) and _handoff(answer[-ANSWER_TAIL:].lower())
    you_do = _YOU_DO.search(lower) is not None
    revise = [float(bool(answer) and p.search(lower) is not None) for p in (_RESTRUCTURE, _STANDING, _CRITIQUE)]
    return [float(failure), float(observed), float(output), float(claimed and report),
            float(handoff), float(you_do), float(handoff and you_do)] + revise
