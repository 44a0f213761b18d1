"""Text checks behind the correction gate and the pair filters (miner.filters): pure functions on strings.

- the gate: is a feedback turn a status question, or a pasted tool failure (debugging, not a correction)?
- the same-prompt check of a `next_attempt` pair: does the chosen answer reply to the feedback
  ("You're right, ..."), or use facts only the feedback gave (a path, a number, an error, a name)?
- sycophantic openers ("You're absolutely right!", "Great catch") found and stripped.
"""

from __future__ import annotations

import re

# --- sycophantic openers -------------------------------------------------------------------

_OPENER = re.compile(
    r"^\W*(?:(?:ah|oh|yes|ok(?:ay)?)[,!.]?\s+)?"
    r"(?:you(?:'re| are)\s+(?:absolutely\s+|totally\s+|completely\s+|quite\s+|so\s+)?(?:right|correct)"
    r"|(?:that's|that is)\s+(?:absolutely\s+)?(?:right|correct|a (?:great|good|fair|excellent) (?:point|catch|question|idea))"
    r"|(?:great|good|excellent|nice|fair|valid|sharp|smart)\s+(?:catch|point|question|idea|eye|call|observation|"
    r"approach|thinking|plan|suggestion|analysis|thought)"
    r"|(?:that's|that is)\s+a\s+(?:great|good|excellent)\s+(?:idea|approach|plan|suggestion)"
    r"|(?:my |i )?apolog(?:ies|ize|ise)|sorry|my (?:bad|mistake)"
    r"|thanks?(?: you)? for (?:catching|pointing|the (?:feedback|correction|clarification))"
    r"|absolutely|perfect|exactly|certainly|of course)\b",
    re.I)
# Where an opener sentence ends: the rest of the answer starts after it.
_OPENER_END = re.compile(r"[.!:\n]|\s[-–—]\s|,\s+(?=(?:i|let|you|the|this)\b)", re.I)


def sycophantic_opener(text: str) -> str | None:
    """The sycophantic opener `text` starts with (its first sentence), or None."""
    t = (text or "").lstrip()
    if not _OPENER.match(t):
        return None
    end = _OPENER_END.search(t, _OPENER.match(t).end())
    return t[: end.end() if end else len(t)]


def strip_opener(text: str) -> tuple[str, bool]:
    """(text without its sycophantic opener, whether one was stripped)."""
    opener = sycophantic_opener(text)
    if opener is None:
        return text, False
    rest = text.lstrip()[len(opener):].lstrip(" ,-–—\n")
    return (rest[:1].upper() + rest[1:]) if rest else rest, True


# --- the same-prompt check ----------------------------------------------------------------

# Phrases by which an answer replies to the person's feedback rather than to the original prompt.
_REPLY = re.compile(
    r"\b(?:you(?:'re| are) (?:absolutely |totally )?(?:right|correct)|as you (?:said|suggested|mentioned|pointed out|"
    r"requested|asked|noted)|you(?:'ve| have)? (?:mentioned|asked|pointed out|noted)|per your|i see the (?:issue|problem)|"
    r"(?:i )?understood|i understand|got it|let me (?:fix|correct|redo|revert|undo|try again)|thanks? (?:you )?for|i missed|"
    r"i (?:made a|see my) mistake|my mistake|i should have|i misunderstood|i apologi[sz]e|good (?:catch|point)|"
    r"great (?:catch|point)|that makes sense|makes sense|i should(?: have)?|i didn'?t|i did not|i forgot|"
    r"(?:ah|oh)\W+(?:so\s+)?you mean|(?<!if )you mean(?:t)? the|i see what you mean)\b", re.I)
# An answer that opens with "No," / "Yes," answers something the person just asked.
_ANSWERS_QUESTION = re.compile(r"^\W*(?:no|yes|yeah|yep|nope|not yet)\b\s*[,.!:;—–-]", re.I)
REPLY_CHARS = 200  # a reply shows in the answer's opening


def replies_to_feedback(chosen: str) -> bool:
    """The answer's opening, or its first prose after the tool calls it starts with, replies to the feedback."""
    prose = first_prose(chosen)
    return bool(flattery(chosen) or _ANSWERS_QUESTION.match(prose)
                or _REPLY.search((chosen or "")[:REPLY_CHARS]) or _REPLY.search(prose[:REPLY_CHARS]))


def flattery(answer: str) -> str | None:
    """A sycophantic opener at the start of the answer or of its first prose: an agent answer often starts with
    tool calls ("[Read] ...") and says "You're absolutely right" after them."""
    return sycophantic_opener(answer) or sycophantic_opener(first_prose(answer))


def strip_flattery(answer: str) -> tuple[str, bool]:
    """(answer without the sycophantic opener at its start or at the start of its first prose after tool calls,
    whether one was stripped): what a rewrite keeps. A next attempt is dropped instead (the `sycophantic_opener`
    filter): by reading, what follows its opener replies to the feedback (data/pairs/fresh_sample_4.jsonl)."""
    text, stripped = strip_opener(answer or "")
    if stripped or not sycophantic_opener(first_prose(answer)):
        return text, stripped
    lines = answer.splitlines()
    k = next(k for k, ln in enumerate(lines) if ln.strip() and not ln.startswith(_TOOL_LINE))
    rest, _ = strip_opener("\n".join(lines[k:]))
    return "\n".join(lines[:k] + ([rest] if rest else [])), True


# Lines of a rendered tool call (miner.render): the call, a diff, a written file's head, an elision.
_TOOL_LINE = ("[", "@@", "+", "-", " ", "…")


def first_prose(answer: str) -> str:
    """The answer's text from its first line of prose on (tool-call lines, `[Tool] ...`, and their output
    skipped), the following prose lines joined."""
    lines = (answer or "").splitlines()
    start = next((k for k, ln in enumerate(lines) if ln.strip() and not ln.startswith(_TOOL_LINE)), len(lines))
    prose = []
    for ln in lines[start:]:
        if ln.startswith(_TOOL_LINE):
            break
        prose.append(ln)
    return " ".join(prose).strip()


def is_question(feedback: str) -> bool:
    """The feedback ends with a question: the person's next answer answers it ("No, I should check ...")."""
    return (feedback or "").rstrip().rstrip(")*_`'\"").endswith("?")


# Facts a feedback can give: paths and file names, URLs, numbers, code names, quoted or back-ticked text.
_FACT = re.compile(
    r"https?://\S+"
    r"|(?:~|\.{1,2})?/?(?:[\w.-]+/)+[\w.-]+"  # a path
    r"|\b[\w-]+\.(?:py|js|ts|tsx|jsx|json|md|toml|ya?ml|sql|sh|rs|go|java|rb|css|html|txt|cfg|ini|lock|swift|kt|c|h|cpp)\b"
    r"|`[^`\n]{3,60}`"
    r"|\"[^\"\n]{4,60}\""
    r"|(?<![\w'])'[^'\n]{3,60}'(?![\w'])"  # single quotes, not apostrophes ("dont use 'uv pip ...' to run")
    r"|\b[a-z]+(?:_[a-z0-9]+)+\b|\b[a-z]+[A-Z]\w+\b|\b[A-Z][a-z]+[A-Z]\w+\b|\b\w+(?:\.\w+){2,}\b"  # code names
    r"|\b\d[\d,.:]{1,}\d\b")
_COMMON = frozenset({"e.g.", "i.e."})


def facts(text: str) -> set[str]:
    out = set()
    for m in _FACT.finditer(text or ""):
        f = m.group(0).strip("`\"'.,:;() ")
        if len(f) >= 3 and f.lower() not in _COMMON:
            out.add(f)
    return out


def feedback_only_facts(feedback: str, chosen: str, known: list[str]) -> list[str]:
    """Facts of the feedback the chosen answer uses that the prompt and the rejected answer never mention."""
    seen = "\n".join(known)
    return sorted(f for f in facts(feedback) if f not in seen and f in (chosen or ""))


# --- the correction gate ------------------------------------------------------------------

_STATUS = re.compile(
    r"\b(?:status|progress|done|finish(?:ed)?|work(?:s|ed|ing)?|pass(?:es|ed|ing)?|going|happen(?:ed|ing)?|running|ready|complete[d]?|stuck|"
    r"there yet|where are we|how far|up to|any (?:luck|news|update))\b", re.I)
_ASKS = re.compile(r"^\s*(?:so\s*,?\s*)?(?:is|are|did|does|do|has|have|was|were|what|what's|whats|where|how|how's|"
                   r"any|can you (?:tell|check|see)|still)\b", re.I)
STATUS_WORDS = 15


def is_status_question(feedback: str) -> bool:
    """A short question about the state of the work ("is it done?", "did it work?"): no correction in it."""
    t = " ".join((feedback or "").split())
    return (bool(t) and t.endswith("?") and len(t.split()) <= STATUS_WORDS and bool(_ASKS.match(t))
            and bool(_STATUS.search(t)))


_OUTPUT_LINE = re.compile(
    r"^\s*(?:Traceback|File \"|at \S+[(:]|\$ |> |>>> |[\w.]*(?:Error|Exception|Warning)\b|E\s{2,}|npm (?:ERR|WARN)|"
    r"error(?:\[\w+\])?:|warning:|FAIL|PASS|ok \d|not ok|\d+ (?:passed|failed)|\[\d|#\d|\w+\.\w+:\d+)"
    r"|^\s{4,}\S|[│├└┌┐┘─╭╮╯╰❯]|\S+\.\w{1,4}:\d+(?::\d+)?", re.I)
PROSE_WORDS = 12  # a pasted failure with fewer words of the person's own is debugging, not a correction


def is_pasted_failure(feedback: str) -> bool:
    """Mostly pasted tool output (a traceback, a failing test run, a log) with little of the person's own words."""
    lines = [ln for ln in (feedback or "").splitlines() if ln.strip()]
    if not lines:
        return False
    output = [ln for ln in lines if _OUTPUT_LINE.search(ln)]
    prose = sum(len(ln.split()) for ln in lines if not _OUTPUT_LINE.search(ln))
    return bool(output) and (len(output) >= 3 or len(output) * 2 >= len(lines)) and prose < PROSE_WORDS


# "no error", "no difference", "no such file": a "no" before these nouns reports what happened, it asks for nothing
# ("no emojis" does). Shared with the offline personas (miner.personas.is_general).
# "no change in the output" reports; "no changes to the tests" and "no output files" ask for something.
OUTCOME_NOUNS = (r"(?:errors?|warnings?|difference|luck|effect|results?|response|improvement|success|progress|such|"
                 r"issues?|problems?|changes?(?! to\b))")
NO_OUTCOME = re.compile(rf"^\W*no {OUTCOME_NOUNS}\b", re.I)

# What a correction says and a bare outcome report ("spinning", "nope", "now the button does nothing") does not:
# how the answer should have been different.
_DIRECTIVE = re.compile(
    r"\b(?:don'?t|do not|never|always|instead|rather|prefer|should(?:n'?t)?|must|please|need(?:s|ed)? to|want|"
    r"let'?s|stop|avoid|use|keep|remove|drop|add|make|ignore|only|just|why|did you|have you|you (?:didn'?t|forgot|"
    r"missed|did)|wrong|not what|i (?:said|asked|meant|mean)|supposed to|fix|revert|undo|again|we(?:'re| are)? us(?:e|ing)|"
    r"call (?:it|them)|too (?:long|short|wordy|verbose|much|many|complex)|"
    rf"no (?!{OUTCOME_NOUNS}\b)\w{{3,}}|shorter|simpler|fewer|less)\b"
    # "not the app list but the launcher": a contrast says what was meant instead
    r"|\bnot (?:the|a|an|this|that|my|your) [\w-]+(?: [\w-]+)?,? but\b",
    re.I)


def is_outcome_report(feedback: str) -> bool:
    """Feedback that only reports what happened (a failure, a symptom) without saying what to do differently."""
    return not _DIRECTIVE.search(feedback or "")
