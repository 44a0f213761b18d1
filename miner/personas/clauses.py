"""A feedback text cut into clauses (step 1 of the offline persona): pasted output (tracebacks, logs, code) and
filler ("no,", "please") dropped, questions and complaints turned into the instructions they imply, each clause
marked when a cue near it says the rule stands ("again", "remember", "from now on", "in this repo, ...")."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CLAUSE_WORDS = 30

# The person says the rule stands: it was broken before, or belongs in the project's memory ("forgot YAGNI again?",
# "we keep having this discussion", "remember ...", "make a note in project memory"). Such a correction is a
# standing preference even when the corpus holds one session of it.
_STANDING = re.compile(
    r"\b(?:again|every time|each time|once more|remember|keep (?:not )?\w+ing|keep having|project memory|from now on|"
    r"(?:in|for) the future|i (?:already )?(?:told|asked) you|as i (?:said|told you)|how many times|"
    r"(?:your|the|our) (?:directives|instructions|guidelines|conventions))\b", re.I)
# "in this repo", "for our project": the project as a scope (in _SCOPED, _PROJECT_SCOPE and LEAD_SCOPE).
THE_PROJECT = r"(?:in|for) (?:this|our) (?:repo(?:sitory)?|project|codebase)"
# The clause itself says the rule holds beyond the task at hand: a universal quantifier or a frequency adverb
# ("always", "never", "each time", "I often ..."), the future ("from now on") or the project ("in this repo, ...").
# Such a clause is a standing preference from one correction; a clause scoped to now ("not yet", "for now") is not.
_SCOPED = re.compile(
    r"\b(?:always|never|ever|every (?:single )?time|each time|whenever|any ?time|usually|generally|in general|"
    r"normally|typically|often|as a rule|by default|in (?:almost |nearly )?all cases|most of the time|"
    rf"from now on|going forward|in (?:the )?future|{THE_PROJECT})\b"
    r"|\b(?:don'?t|do not|never)\b.*\b(?:anything|any \w+|anyone|anywhere)\b", re.I)
_NOW = re.compile(r"\b(?:yet|for now|right now|this time|at the moment|(?<!from )now|today|here)\b", re.I)
# A scope that opens a clause and belongs to it: "in this repo, X", "from now on, X".
LEAD_SCOPE = re.compile(rf"^(?:{THE_PROJECT}|from now on|going forward|"
                        r"in (?:the )?future|in general|as a rule|by default)\b[\s,]*", re.I)

# Lines of pasted output: tracebacks, logs, shell prompts and sessions, tree drawings, code.
_OUTPUT_LINE = re.compile(
    r"^\s{2,}\S|^\s*(Traceback|File \"|at \S+\(|\$ |>>> |[A-Za-z_.]*(Error|Exception)\b:|E\s{2,}|```)"
    r"|[{};]\s*$"
    r"|^\s*(def |class |import |from \S+ import|return |const |let |function )"
    r"|\d{4}[/-]\d\d[/-]\d\d|\S+\.\w{1,4}:\d+|^\s*\w+:\s*[/~]|\b[Pp]latform \w+ --|\w+-\d+\.\d+\.\d+"
    r"|[│├└┌┐┘─╭╮╯╰❯➜]|\b\d{1,3}(?:\.\d{1,3}){3}\b|^\(\S+\) |\S+@\S+ .*[%$#]\s|^\s*(?i:error|warning|failed|fatal)\b.*:")
# Words that start a new instruction: where a clause may be cut at "and" or a comma.
_STARTERS = (r"(?:no|don'?t|do not|never|always|keep|make|use|drop|skip|avoid|add|remove|stop|run|read|write|put|"
             r"just|only|check|ask)\b")
# Where one request ends and the next begins inside a feedback message.
_SPLIT = re.compile(rf"(?<=[.!?;])\s+|\n+|,\s*(?:and|but|then)\s+|\s+(?:and|but)\s+(?={_STARTERS})|\s+--\s+"
                    rf"|,\s+(?!be\w*cause\b)(?={_STARTERS}|\w+\s+\w+)",
                    re.I)
# "no," is filler but "no emojis" is the preference: interjections go only when punctuation follows.
_LEAD = re.compile(r"^(?:(?:(?:no+|nope|nah|ok(?:ay)?|well|so|wait|sorry|hey|yes|yeah|right|look|listen|ugh|oops|then)"
                   r"\s*[,.:;!-]+|(?:hmm+|also|and|but|please|pls|actually|again)\b)[\s,.:;!-]*)+", re.I)
_TRAIL = re.compile(r"[\s,]*(?:\b(?:please|pls|thanks|thank you|again|ok)\b[\s,.!]*)+$|[\s,.;:!]+$", re.I)
# Questions and complaints turned into instructions: "did you run the tests?" -> "run the tests".
_REWRITES = [
    (re.compile(r"^(?:did|have|why didn'?t|why did not) you (?:even |actually )?(?:\w+ )?(?=run|read|check|test|look)",
                re.I), ""),
    (re.compile(r"^you (?:didn'?t|did not|forgot to|never|haven'?t|have not) (?:even |actually )?", re.I), ""),
    (re.compile(r"^(?:can|could|would) you (?:please )?", re.I), ""),
    # A rule the person cites ("your directives are to write self-documenting code") is a rule restated.
    (re.compile(r"^(?:your|the|our) (?:directives|instructions|rules|guidelines|conventions) (?:are|is|say|says) "
                r"(?:to |that (?:you )?(?:should |must )?)?(?!not\b)", re.I), "always "),
    (re.compile(r"^(?:i )?(?:want|need|prefer|asked for|asked you to|told you to) (?:you to )?", re.I), ""),
    # "stop doing X" / "start doing X" ask for a change of habit: a standing rule ("never X" / "always X").
    (re.compile(r"^(?:stop|quit) (?=\w+ing\b)", re.I), "never "),
    (re.compile(r"^start (?!by\b)(?=\w+ing\b)", re.I), "always "),
    (re.compile(r"^(?:i think )?(?:we|you) should (?:also )?(?!not\b|never\b)", re.I), ""),
    (re.compile(r"^(?:i think )?(?:we|you) (?:shouldn'?t|should not|should never) ", re.I), "don't "),
    (re.compile(r"^let'?s (?:also )?(?!not\b)", re.I), ""),
    # A complaint about a thing is the norm it broke: "the commit message doesn't reflect X" -> "... must reflect X".
    (re.compile(r"^((?:the|every|each|all|our|your)\b[^,;]{0,40}?) (?:doesn'?t|does not|didn'?t|did not) ", re.I),
     r"\1 must "),
]
# A whole clause that is only an interjection or a go-on: no preference in it.
_FILLER_ONLY = re.compile(r"^(?:no+|nope|nah|ok(?:ay)?|yes|yeah|wait|whoops|oops|hmm+|one sec(?:ond)?|"
                          r"(?:then |please |just )?(?:continue|go on|proceed|go ahead|try again))$", re.I)


@dataclass
class Clause:
    text: str
    msg_id: str
    standing: bool = False  # a cue near it says the rule stands (`marked_clauses`)


def _trimmed(text: str) -> str:
    t = " ".join(text.split()).strip(" \"'`-*")
    for _ in range(3):
        before = t
        t = _LEAD.sub("", t)
        t = _TRAIL.sub("", t).strip(" \"'`-*")
        if t == before:
            break
    return t


def clean_clause(text: str) -> str:
    t = _trimmed(text).rstrip("?")
    for rx, repl in _REWRITES:
        t = rx.sub(repl, t, count=1)
    return t.strip(" ,.;:")


def is_bare_question(piece: str) -> bool:
    """A question no rewrite turns into an instruction ("Do type annotations allow X?"; not "did you run the
    tests?" -> "run the tests"): it asks, it states no rule."""
    t = _trimmed(piece)
    return t.endswith("?") and not any(rx.match(t) for rx, _ in _REWRITES)


STANDING_WINDOW = 2  # a "said it stands" cue counts for the clauses this many pieces around it


def clauses_of(text: str) -> list[str]:
    """The preference-bearing clauses of one feedback text."""
    return [c for c, _ in marked_clauses(text)]


# A clause that opens with its own subject (not "you"): a verb after its "and" shares that subject.
_SUBJECT = re.compile(r"^(?:i|he|she|we|they|people|(?:the|a|an|most|many|some|all)\s+\w+)\b", re.I)


def _pieces(prose: str) -> list[str]:
    """`prose` cut where one request ends and the next begins (`_SPLIT`), except where the cut would leave a
    clause without its scope or its subject: "In this repo, X" and "from now on, X" stay one clause, and so
    does "they don't know X and don't realize Y" (the second verb shares the first's subject: not an
    instruction to the assistant).
    "but" still cuts: "it may do that already, but don't report it" is an instruction after a remark."""
    pieces, seps, start = [], [""], 0
    for m in _SPLIT.finditer(prose):
        pieces.append(prose[start:m.start()])
        seps.append(m[0])
        start = m.end()
    pieces.append(prose[start:])
    out: list[str] = []
    for piece, sep in zip(pieces, seps):
        prev = clean_clause(out[-1]) if out else ""  # "" matches no subject
        if out and LEAD_SCOPE.fullmatch(out[-1].strip()):
            out[-1] = f"{out[-1].strip()}, {piece}"
        elif re.match(r"^\s*,?\s*and\s*$", sep, re.I) and _SUBJECT.match(prev):
            out[-1] = f"{out[-1]}{sep}{piece}"
        else:
            out.append(piece)
    return out


def marked_clauses(text: str) -> list[tuple[str, bool]]:
    """(clause, whether a cue near it says the rule stands: "again", "remember", "project memory", ...)."""
    lines = [ln for ln in (text or "").splitlines() if not _OUTPUT_LINE.search(ln)]
    # A line break inside a sentence (wrapped text) is a space; one after punctuation or before a
    # list item ends the clause.
    prose = re.sub(r"(?<![.!?:;\n])\n(?!\s*(?:[-*•]|\d+[.)])\s|\n)", " ", "\n".join(lines))
    pieces = _pieces(prose)
    cues = [k for k, p in enumerate(pieces) if _STANDING.search(p)]
    out = []
    for k, piece in enumerate(pieces):
        c = clean_clause(piece)
        words = c.split()
        if is_bare_question(piece):
            continue
        if not words or len(words) > MAX_CLAUSE_WORDS or not re.search(r"[A-Za-z]{3}", c):
            continue
        if _FILLER_ONLY.match(c):
            continue
        if len(words) == 1 and re.search(r"[/\\.~_]", c):  # a bare path or file name
            continue
        # A cue far away in a long message ("... in the future") says nothing about this clause.
        near = any(abs(k - j) <= STANDING_WINDOW for j in cues)
        out.append((c, near or (bool(_SCOPED.search(piece) or _SCOPED.search(c)) and not _NOW.search(c))))
    return out
