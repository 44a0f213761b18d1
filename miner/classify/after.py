"""The `after` family: what the assistant did right after the turn (look-ahead, learned-6).

Every other family reads the turn and what came before it; a correction is often plainest in the
answer it drew. `Turn.next_assistant` holds the head of the next answer's prose and `Turn.next_calls`
its first tool calls (miner/turns.py from the vault; the `answer_after` field of label files, prose
only). Features, each 0 when what it reads is unknown (`after:known`, `after:calls_known` say which:
an unknown answer is not an answer that said nothing):

- `ack`: the head acknowledges a mistake or a change of course ("You're absolutely right", "Good
  catch", "I apologize", "my mistake", "I misunderstood"; in the languages the labels hold: Chinese,
  Russian, Finnish, a few others);
- `agree`: it agrees with a point the person made ("Great point", "Good call"), a weaker sign;
- `fix`: it announces a repair of what it did ("Let me fix / revert / redo", "Ah, I see the issue",
  "The problem is");
- `new`: it opens on something new with no acknowledgement ("I'll create ...", "Let me start by");
- `silent`: it said nothing before the next human turn (known, empty prose);
- `reedit`, `rerun`: its tool calls edit a file the answer before edited, or run again a command it ran
  (a redo rather than new work; from the vault only).

Priors (log-odds towards a correction the regression starts from, in `PRIOR`) are set by meaning before
any figure, as followup.py's.
"""

from __future__ import annotations

import re

from miner.classify.base import Turn
from miner.classify.cues import lowered_pattern

# A label's reason when the model read this family before the assistant's next answer existed (the last turn of
# a live session): `vault mine` labels such a turn again once the assistant has written after it (miner.turns).
AWAITING = "after:unknown"
HEAD = 300  # characters of the next answer's head read for an acknowledgement: it opens the answer

_ACK = lowered_pattern(
    r"\byou(?:'re| are)\s+(?:absolutely |completely |totally |quite |so |entirely )?(?:right|correct)\b|"
    r"\byou'?re right\b|\b(?:good|great|nice|excellent) (?:catch|spot)\b|\bi apologi[sz]e\b|"
    r"\b(?:my )?apologies\b|\b(?:i'?m |i am )?(?:so |very )?sorry\b|\bmy (?:mistake|bad|error|fault|apologies)\b|"
    r"\bi (?:misunderstood|misread|overlooked|missed|made (?:a|an) (?:mistake|error))\b|"
    r"\bthat(?:'s| is| was) (?:my|a) (?:mistake|error|oversight)\b|\bi should(?:'ve| have) \w+|"
    r"\bthanks? (?:you )?for (?:catching|pointing|the correction|clarifying)\b|\byou(?:'re| are) correct\b|"
    # Chinese, Russian, Finnish, Spanish, German, French: "you are right", "sorry", "my mistake"
    r"[你您]?说得对|[你您]?說得對|[你您]是对的|[你您]是對的|抱歉|对不起|對不起|我的错|我的錯|不好意思|我理解错|我理解錯|"
    r"\b(?:вы|ты) прав\w*|\bизвин\w*|\bпрошу прощения\b|\bмоя ошибка\b|\bвиноват\w*|"
    r"\bolet (?:täysin |aivan )?oikeassa\b|\bpahoittel\w*|\banteeksi\b|\bhyvä huomio\b|\bvirheeni\b|"
    r"\btienes razón\b|\bperd[oó]n\b|\bdisculp\w*|\b(?:du hast|sie haben) recht\b|\bentschuldig\w*|"
    r"\bvous avez raison\b|\bdésolé\b")
_FIX = lowered_pattern(
    r"\b(?:let me|i'?ll|i will|i need to|i'?m going to)\s+(?:quickly |now |also )?(?:fix|correct|revert|redo|"
    r"undo|roll back|rollback|change that|update that|adjust|rewrite|try again|re-?(?:do|write|run|try|apply|implement|add|check)|remove (?:that|the|those))\b|"
    r"\b(?:i )?(?:see|found|spotted|understand) (?:the|what the|what's the) (?:issue|problem|error|bug|mistake)\b|"
    r"\A\W*(?:ah|oh|hmm)\b|\bthe (?:issue|problem|error|bug) (?:is|was)\b|"
    r"\bисправ\w*|\bkorjaa\w*|修复|修正|改正")
# Agreeing with a point the person made (a suggestion, a change): weaker than an acknowledged mistake.
_AGREE = lowered_pattern(
    r"\b(?:good|great|excellent|fair|valid|nice) (?:point|call|idea|suggestion|thought|question)s?\b|"
    r"\bhyvä (?:idea|pointti|kysymys)\b|\bхорошая идея\b|好主意|好建议|好建議")
_NEW = lowered_pattern(
    r"\A\W*(?:(?:great|sure|okay|ok|perfect|certainly|absolutely|excellent)[!,.]?\s+)?(?:i'?ll|i will|let me|"
    r"let's|i'?m going to)\s+(?:start|begin|create|add|implement|build|set up|write|help|look|explore|check|"
    r"analy[sz]e|read|search|first)\b")
_EDIT = re.compile(r"^\[(?:Edit|Write|MultiEdit|NotebookEdit)\] (\S.*)$", re.MULTILINE)
_RUN = re.compile(r"^\[(?:Bash|shell|exec_command)\] (\S.*)$", re.MULTILINE)

NAMES = ["after:known", "after:silent", "after:ack", "after:agree", "after:fix", "after:new",
         "after:calls_known", "after:reedit", "after:rerun"]
FAMILIES = ("after",)

PRIOR = {"after:ack": 2.5, "after:agree": 0.5, "after:fix": 0.8, "after:new": -0.5, "after:reedit": 0.5, "after:rerun": 0.3}


def vector(t: Turn) -> list[float]:
    """The family's features in `NAMES` order."""
    head = t.next_assistant
    known = head is not None
    lower = head[:HEAD].lower() if head else ""
    ack = bool(lower) and _ACK.search(lower) is not None
    agree = bool(lower) and not ack and _AGREE.search(lower) is not None
    fix = bool(lower) and _FIX.search(lower) is not None
    new = bool(lower) and not ack and _NEW.search(lower) is not None
    calls = t.next_calls
    reedit = rerun = False
    if calls and t.prev_assistant and "[" in t.prev_assistant:
        before, after = t.prev_assistant, "\n".join(calls)
        edited = set(_EDIT.findall(before))
        reedit = bool(edited) and any(p in edited for p in _EDIT.findall(after))
        ran = set(_RUN.findall(before))
        rerun = bool(ran) and any(c in ran for c in _RUN.findall(after))
    return [float(known), float(known and not head), float(ack), float(agree), float(fix), float(new),
            float(calls is not None), float(reedit), float(rerun)]
