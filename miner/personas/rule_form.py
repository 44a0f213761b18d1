"""What makes a clause a rule an extractive persona may quote (`is_general`: stated in general form, about no
task-specific entity) and how it is stated as a CLAUDE.md instruction (`state_rule`)."""

from __future__ import annotations

import re

from miner import quality
from miner.personas.clauses import LEAD_SCOPE, THE_PROJECT

# The general form of a standing rule: words that make an instruction apply beyond the task at hand.
_GENERAL = re.compile(
    r"^(?:always|never|don'?t|do not|no|avoid|prefer|stop|keep|only|use|make sure|remember|please don'?t|skip|drop)\b"
    r"|\b(?:always|never|instead|rather than|prefer|every time|each time|from now on|by default|in general|"
    r"unless|don'?t|do not|avoid|before you|first|yagni|think (?:hard|harder|superhard|it through)|make sure|"
    r"properly|correctly|\w+, not \w+)\b", re.I)
# A norm stated about a thing ("the commit message must reflect the change"): a complaint restated (`clauses._REWRITES`).
_NORM = re.compile(r"^(?:the|every|each|all|our|your)\b[^,;]{0,40}?\b(?:must|should always|should never)\b", re.I)
# Fragments of a sentence, not a rule: a subordinate clause cut off its main clause.
_FRAGMENT = re.compile(r"^(?:only |just )?(?:because|beacause|since|which|so|as|if|when|while|whether|to)\b", re.I)
_FIRST_PERSON_RULE = re.compile(
    r"^(?:i(?:'d| would)? (?:prefer|rather|don'?t want|do not want|hate|dislike|don'?t like|like to keep|"
    r"(?:still )?want (?:you to )?(?:always|never))|we don'?t need)\b", re.I)
# Task-specific entities: a path, an id, a long number, a file name that is not a well-known one.
_ENTITY = re.compile(r"[\w.-]+/[\w./-]+|\b[0-9a-f]{7,}\b|\b\d{3,}\b|\b[\w-]+\.(?:py|js|ts|tsx|json|md|toml|ya?ml|sql|"
                     r"sh|rs|go|txt|csv|pdf|html|css|svelte|ex|exs)\b", re.I)
_WELL_KNOWN_FILES = re.compile(r"\b(?:__init__\.py|conftest\.py|claude\.md|readme\.md|agents\.md|"
                               r"pyproject\.toml|package\.json|todo\.md)\b", re.I)
# A convention stated about the project: "in this repo, the worktrees are just subfolders".
_PROJECT_SCOPE = re.compile(rf"^{THE_PROJECT}\b", re.I)
# Hook and tool text that reaches a human turn ("Stop hook feedback", system reminders).
_HOOK_TEXT = re.compile(r"\bhook\b|<[a-z-]+>|\bsystem-reminder\b|^\s*(?:exit|run)\s+claude\b|⎿|\[Request interrupted",
                        re.I)
# Phrasing a stated preference as a CLAUDE.md instruction: "I don't want to X" -> "Don't X".
_PHRASINGS = [
    (re.compile(r"^i (?:don'?t|do not) want (?:you )?to ", re.I), "don't "),
    (re.compile(r"^i (?:hate|dislike|don'?t like) (?:it when )?(?:you )?(?=\w+ing\b)", re.I), "avoid "),
    (re.compile(r"^i(?:'d| would) (?:rather|prefer to) ", re.I), "prefer to "),
    (re.compile(r"^i (?:still )?want (?:you to )?", re.I), ""),
    (re.compile(r"\s+(?:please|pls|plz)\b", re.I), ""),
    (re.compile(r"\s*\([^()]*\)?\s*$"), ""),  # a trailing aside "(to CLAUDE.md)": the task at hand
    (re.compile(r"^(always|never) (\w{3,})ing\b", re.I),  # "always explaining" -> "always explain"
     lambda m: f"{m[1]} {m[2][:-1] if m[2][-1] == m[2][-2] and m[2][-1] not in 'lsdz' else m[2]}"),
]
_NOT_IMPERATIVE = frozenset(
    "i you it it's its this that these those the there here did does why what how is are was were too can could "
    "would should we my your a an he she they which who where when still "
    # a clause opening with a preposition is a statement ("for user decisions, ... have proven enough")
    "for in on at with regarding about as of from into".split())


def is_general(clause: str) -> bool:
    """A rule stated in general form, about no task-specific entity: what an extractive persona may quote."""
    if _HOOK_TEXT.search(clause) or _ENTITY.search(_WELL_KNOWN_FILES.sub("", clause)) or _FRAGMENT.match(clause):
        return False
    if quality.NO_OUTCOME.match(clause):  # "no error, but the graph is empty": a report, not "no emojis"
        return False
    return (bool(_FIRST_PERSON_RULE.match(clause) or _NORM.match(clause) or _PROJECT_SCOPE.match(clause))
            or (is_imperative(clause) and bool(_GENERAL.search(clause))))


def is_imperative(clause: str) -> bool:
    first = (LEAD_SCOPE.sub("", clause) or clause).split()[0].lower().strip(",.'\"")
    return first not in _NOT_IMPERATIVE and not first.startswith(("i'", "we'", "you'")) and not clause.endswith("?")


def state_rule(clause: str) -> str:
    """The clause as an instruction: "I don't want to commit X" -> "Don't commit X."."""
    c = clause.strip()
    for rx, repl in _PHRASINGS:
        c = rx.sub(repl, c, count=1)
    c = c[0].upper() + c[1:]
    return c if c.endswith((".", "!")) else c + "."
