"""Personas per role: the person's standing preferences, stated as short rules, from their corrections.

Offline backend (the default) is **extractive**: it quotes rules the person stated, it does not infer
what they meant. For each role:
1. the feedback texts of its corrections (effective label `reattempt_with_feedback`, text a person
   typed) are cut into clauses ("too long. two sentences max, and no emojis" -> three clauses); pasted
   output (tracebacks, logs, code), hook and tool text and filler ("no,", "please") are dropped; a
   complaint about a thing becomes the norm it broke ("the commit message doesn't reflect X" -> "the
   commit message must reflect X");
2. only clauses stated in general form are kept (`is_general`: an imperative with always, never,
   don't, no, avoid, prefer, instead, keep, only, make sure...; "I prefer / I'd rather / I don't want /
   I dislike"; a norm "the X must ..."), no sentence fragment ("because ..."), and none naming a
   task-specific entity (a path, a file name other than well-known ones such as `__init__.py` or
   `CLAUDE.md`, an id, a long number);
3. the clauses are embedded with the search model (vault.index.embeddings, local) and clustered
   (average-linkage agglomerative on cosine similarity plus a bonus per shared content word,
   `threshold`);
4. each cluster that is a standing preference (`is_standing`: stated in at least `MIN_SESSIONS` (2) sessions,
   restated in substance in another session, or in a correction that says it stands: "again", "remember", or
   the clause itself, "always", "each time", "don't ... anything", "in this repo, ...") becomes one rule,
   phrased as a CLAUDE.md instruction (`state_rule`) from its most representative clause (the medoid), with
   support = the number of distinct corrections and their msg_ids as examples. A one-session remark with no
   such cue is a task detail, not a standing preference.
The persona text is the rules as a short list, most supported first. Rows a person edited
(`personas.edited`) are never overwritten.

Anthropic backend (opt-in, paid): Claude reads a role's corrections (redacted, the latest 200)
and states the rules itself, citing the corrections behind each (support = how many it cites).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pydantic

from miner import quality
from miner.classify.base import REATTEMPT_WITH_FEEDBACK
from miner.tables import EFFECTIVE_LABELS, drop_mined_personas, edited_personas, session_roles, store_mined_persona
from miner.tables import load_personas  # noqa: F401  (re-exported: the personas' readers import it from here)

THRESHOLD = 0.45  # similarity (cosine + shared-word bonus) above which clusters merge (average linkage)
WORD_BONUS = 0.2  # added to the similarity of two clauses per shared content word (at most two)
MAX_RULES = 8
MAX_CLAUSE_WORDS = 30
MAX_CLAUSES = 1500  # per role: clustering is quadratic in memory
MIN_SESSIONS = 2  # a rule must be stated in this many sessions to be a standing preference
ECHO = 0.55  # cosine above which a clause of another session's correction restates a rule in substance

# The general form of a standing rule: words that make an instruction apply beyond the task at hand.
_GENERAL = re.compile(
    r"^(?:always|never|don'?t|do not|no|avoid|prefer|stop|keep|only|use|make sure|remember|please don'?t|skip|drop)\b"
    r"|\b(?:always|never|instead|rather than|prefer|every time|each time|from now on|by default|in general|"
    r"unless|don'?t|do not|avoid|before you|first|yagni|think (?:hard|harder|superhard|it through)|make sure|"
    r"properly|correctly|\w+, not \w+)\b", re.I)
# A norm stated about a thing ("the commit message must reflect the change"): a complaint restated (`_REWRITES`).
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
# The person says the rule stands: it was broken before, or belongs in the project's memory ("forgot YAGNI again?",
# "we keep having this discussion", "remember ...", "make a note in project memory"). Such a correction is a
# standing preference even when the corpus holds one session of it.
_STANDING = re.compile(
    r"\b(?:again|every time|each time|once more|remember|keep (?:not )?\w+ing|keep having|project memory|from now on|"
    r"(?:in|for) the future|i (?:already )?(?:told|asked) you|as i (?:said|told you)|how many times|"
    r"(?:your|the|our) (?:directives|instructions|guidelines|conventions))\b", re.I)
# "in this repo", "for our project": the project as a scope (in _SCOPED, _PROJECT_SCOPE and _LEAD_SCOPE).
_THE_PROJECT = r"(?:in|for) (?:this|our) (?:repo(?:sitory)?|project|codebase)"
# The clause itself says the rule holds beyond the task at hand: a universal quantifier or a frequency adverb
# ("always", "never", "each time", "I often ..."), the future ("from now on") or the project ("in this repo, ...").
# Such a clause is a standing preference from one correction; a clause scoped to now ("not yet", "for now") is not.
_SCOPED = re.compile(
    r"\b(?:always|never|ever|every (?:single )?time|each time|whenever|any ?time|usually|generally|in general|"
    r"normally|typically|often|as a rule|by default|in (?:almost |nearly )?all cases|most of the time|"
    rf"from now on|going forward|in (?:the )?future|{_THE_PROJECT})\b"
    r"|\b(?:don'?t|do not|never)\b.*\b(?:anything|any \w+|anyone|anywhere)\b", re.I)
_NOW = re.compile(r"\b(?:yet|for now|right now|this time|at the moment|(?<!from )now|today|here)\b", re.I)
# A convention stated about the project: "in this repo, the worktrees are just subfolders".
_PROJECT_SCOPE = re.compile(rf"^{_THE_PROJECT}\b", re.I)
# A scope that opens a clause and belongs to it: "in this repo, X", "from now on, X".
_LEAD_SCOPE = re.compile(rf"^(?:{_THE_PROJECT}|from now on|going forward|"
                         r"in (?:the )?future|in general|as a rule|by default)\b[\s,]*", re.I)
# Hook and tool text that reaches a human turn ("Stop hook feedback", system reminders).
_HOOK_TEXT = re.compile(r"\bhook\b|<[a-z-]+>|\bsystem-reminder\b|^\s*(?:exit|run)\s+claude\b|⎿|\[Request interrupted",
                        re.I)

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
# A whole clause that is only an interjection or a go-on: no preference in it.
_FILLER_ONLY = re.compile(r"^(?:no+|nope|nah|ok(?:ay)?|yes|yeah|wait|whoops|oops|hmm+|one sec(?:ond)?|"
                          r"(?:then |please |just )?(?:continue|go on|proceed|go ahead|try again))$", re.I)
# A word that points outside the clause ("we don't need it yet", "its contents"): not a rule on its own.
# ("it's done" is a dummy subject, not a reference).
_DANGLING = re.compile(r"\b(?:its|them|these|those)\b|\bit\b(?!'s|’s| is\b)", re.I)
_NOT_IMPERATIVE = frozenset(
    "i you it it's its this that these those the there here did does why what how is are was were too can could "
    "would should we my your a an he she they which who where when still "
    # a clause opening with a preposition is a statement ("for user decisions, ... have proven enough")
    "for in on at with regarding about as of from into".split())


@dataclass
class Clause:
    text: str
    msg_id: str
    standing: bool = False  # a cue near it says the rule stands (`marked_clauses`)


@dataclass
class Rule:
    rule: str
    support: int  # distinct corrections behind the rule
    examples: list[str] = field(default_factory=list)  # msg_ids of those corrections
    clauses: list[str] = field(default_factory=list)  # the clauses of the cluster, most central first
    clause_msgs: list[str] = field(default_factory=list)  # the correction each clause comes from
    echo_msgs: list[str] = field(default_factory=list)  # corrections of other sessions restating it in substance
    standing_msgs: list[str] = field(default_factory=list)  # its corrections that say it stands ("again", ...)


def rule_from_dict(d: dict) -> Rule:
    return Rule(d["rule"], d.get("support", 0), list(d.get("examples") or []), list(d.get("clauses") or []),
                list(d.get("clause_msgs") or []), list(d.get("echo_msgs") or []), list(d.get("standing_msgs") or []))


def is_standing(rule_msgs: list[str], echo_msgs: list[str], standing_msgs: list[str], session_of: dict[str, str],
                min_sessions: int = MIN_SESSIONS) -> bool:
    """A standing preference: stated (or restated in substance) in `min_sessions` sessions, or in a correction
    that says it stands."""
    return (len({session_of.get(m, m) for m in [*rule_msgs, *echo_msgs]}) >= min_sessions
            or bool(set(standing_msgs) & set(rule_msgs)))


def restrict_rule(rule: Rule, allowed_msgs: set[str], session_of: dict[str, str],
                  min_sessions: int = MIN_SESSIONS) -> Rule | None:
    """The rule as the corrections in `allowed_msgs` alone state it (a train split), or None.

    An extractive rule (with clause_msgs) is restated from its most central allowed clause and kept when
    the allowed corrections span `min_sessions` sessions; a rule without them (an LLM's) is kept only when
    every correction behind it is allowed.
    """
    if not rule.clause_msgs:
        return rule if set(rule.examples) <= allowed_msgs else None
    kept = [(c, m) for c, m in zip(rule.clauses, rule.clause_msgs) if m in allowed_msgs]
    msgs = list(dict.fromkeys(m for _, m in kept))
    echoes = [m for m in rule.echo_msgs if m in allowed_msgs]
    standing = [m for m in rule.standing_msgs if m in allowed_msgs]
    if not kept or not is_standing(msgs, echoes, standing, session_of, min_sessions):
        return None
    return Rule(state_rule(kept[0][0]), len(msgs), msgs, [c for c, _ in kept], [m for _, m in kept], echoes,
                standing)


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
        if out and _LEAD_SCOPE.fullmatch(out[-1].strip()):
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


def is_general(clause: str) -> bool:
    """A rule stated in general form, about no task-specific entity: what an extractive persona may quote."""
    if _HOOK_TEXT.search(clause) or _ENTITY.search(_WELL_KNOWN_FILES.sub("", clause)) or _FRAGMENT.match(clause):
        return False
    if quality.NO_OUTCOME.match(clause):  # "no error, but the graph is empty": a report, not "no emojis"
        return False
    return (bool(_FIRST_PERSON_RULE.match(clause) or _NORM.match(clause) or _PROJECT_SCOPE.match(clause))
            or (is_imperative(clause) and bool(_GENERAL.search(clause))))


def is_imperative(clause: str) -> bool:
    first = (_LEAD_SCOPE.sub("", clause) or clause).split()[0].lower().strip(",.'\"")
    return first not in _NOT_IMPERATIVE and not first.startswith(("i'", "we'", "you'")) and not clause.endswith("?")


def state_rule(clause: str) -> str:
    """The clause as an instruction: "I don't want to commit X" -> "Don't commit X."."""
    c = clause.strip()
    for rx, repl in _PHRASINGS:
        c = rx.sub(repl, c, count=1)
    c = c[0].upper() + c[1:]
    return c if c.endswith((".", "!")) else c + "."


_STOP = frozenset(
    "the a an and or but to of in on at for with from by as is are was were be been it its this that these those "
    "you your me my we our us i they them he she his her not no don't do does did dont never always please pls "
    "make sure use just only also all any some more most very really again now then than there here what which "
    "who how why when where can could would should will shall must may might have has had get got let let's into "
    "about over after before instead rather prefer avoid keep one two want need like yet still even so too".split())


def stems(text: str) -> set[str]:
    """Content words of a clause, crudely stemmed ("harder" ~ "hard", "comments" ~ "comment")."""
    out = set()
    for w in re.findall(r"[a-z][a-z'_-]+", text.lower()):
        if w in _STOP or len(w) < 3:
            continue
        for suffix in ("ings", "ing", "ers", "er", "est", "ed", "es", "s", "ly"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 4:
                w = w[: -len(suffix)]
                break
        out.add(w)
    return out


def overlap_bonus(texts: list[str], per_word: float = WORD_BONUS):
    """A similarity bonus for clauses sharing content words: the small embedding model misses "think harder
    and explain" ~ "think hard about process" (0.22 cosine); shared words are the reader's cue."""
    import numpy as np

    sets = [stems(t) for t in texts]
    n = len(sets)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = per_word * min(len(sets[i] & sets[j]), 2)
    return out


def cluster(vectors, threshold: float, bonus=None) -> list[list[int]]:
    """Average-linkage agglomerative clustering on cosine similarity (rows are unit vectors), plus `bonus`
    (an n x n matrix added to the similarities, e.g. `overlap_bonus`)."""
    import numpy as np

    n = len(vectors)
    if n == 0:
        return []
    sim = (vectors @ vectors.T).astype("float64")
    if bonus is not None:
        sim = sim + bonus
    sizes = np.ones(n)
    members: list[list[int]] = [[i] for i in range(n)]
    alive = np.ones(n, bool)
    np.fill_diagonal(sim, -np.inf)
    while alive.sum() > 1:
        masked = np.where(alive[:, None] & alive[None, :], sim, -np.inf)
        i, j = np.unravel_index(np.argmax(masked), masked.shape)
        if masked[i, j] < threshold:
            break
        # Lance-Williams update for average linkage: the merged row is the size-weighted mean.
        merged = (sizes[i] * sim[i] + sizes[j] * sim[j]) / (sizes[i] + sizes[j])
        sim[i], sim[:, i] = merged, merged
        sim[i, i] = -np.inf
        sizes[i] += sizes[j]
        members[i] += members[j]
        alive[j] = False
        sim[j], sim[:, j] = -np.inf, -np.inf
    return [members[k] for k in range(n) if alive[k]]


def role_feedback(con: duckdb.DuckDBPyConnection, role: str | None = None) -> dict[str, list[tuple[str, str]]]:
    """role -> [(msg_id, feedback text)] of its corrections, oldest first."""
    roles = session_roles(con)
    rows = con.execute(f"""
        SELECT e.session_id, e.msg_id, m.text FROM {EFFECTIVE_LABELS} e JOIN messages m ON m.msg_id = e.msg_id
        WHERE e.label = '{REATTEMPT_WITH_FEEDBACK}' AND NOT m.is_sidechain AND m.is_human
        ORDER BY e.timestamp NULLS LAST, m.seq""").fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for sid, msg_id, text in rows:
        r = roles.get(sid)
        if r is None or (role is not None and r != role):
            continue
        out.setdefault(r, []).append((msg_id, text or ""))
    return out


def rules_for(feedback: list[tuple[str, str]], model, threshold: float = THRESHOLD,
              max_rules: int = MAX_RULES, sessions: dict[str, str] | None = None,
              min_sessions: int = MIN_SESSIONS, echo: float = ECHO) -> list[Rule]:
    """Cluster the general-form clauses of a role's feedback; each cluster that is a standing preference
    (`is_standing`: stated in `min_sessions` sessions, counting a clause of another session's correction within
    cosine `echo` of the cluster's central clause, or in a correction saying it stands) is a rule.
    `sessions`: msg_id -> session; without it each correction counts as its own."""
    import numpy as np

    from vault.index.embeddings import encode

    every = [Clause(c, msg_id, st) for msg_id, text in feedback for c, st in marked_clauses(text)][:MAX_CLAUSES]
    general = [k for k, c in enumerate(every) if is_general(c.text)]
    if not general:
        return []
    clauses = [every[k] for k in general]
    session_of = sessions or {}
    all_vecs = encode(model, [c.text for c in every])
    vecs = all_vecs[general]
    bonus = overlap_bonus([c.text for c in clauses])
    sim = vecs @ vecs.T + bonus
    rules = []
    for idx in cluster(vecs, threshold, bonus):
        centrality = sim[np.ix_(idx, idx)].mean(axis=1) if len(idx) > 1 else np.ones(1)
        order = [idx[k] for k in np.argsort(-centrality, kind="stable")]
        best = next((i for i in order if not _DANGLING.search(clauses[i].text)), None)
        if best is None:
            continue  # every clause leans on its context ("we don't need it yet"): no rule a reader can use
        examples = list(dict.fromkeys(clauses[i].msg_id for i in order))
        own = {session_of.get(m, m) for m in examples}
        near = all_vecs @ vecs[best]
        echoes = list(dict.fromkeys(every[k].msg_id for k in np.flatnonzero(near >= echo)
                                    if session_of.get(every[k].msg_id, every[k].msg_id) not in own))
        says = list(dict.fromkeys(clauses[i].msg_id for i in order if clauses[i].standing))
        if not is_standing(examples, echoes, says, session_of, min_sessions) or len(clauses[best].text.split()) < 2:
            continue  # said in one session only: a task detail; or a fragment
        rules.append(Rule(state_rule(clauses[best].text), len(examples), examples,
                          [clauses[i].text for i in order], [clauses[i].msg_id for i in order], echoes, says))
    rules.sort(key=lambda r: (-r.support, r.examples[0]))
    return rules[:max_rules]


def persona_text(role: str, rules: list[Rule], backend: str = "offline") -> str:
    how = ("extractive: rules the user stated in their own corrections, quoted, not summarised"
           if backend == "offline" else "learnt from their corrections")
    lines = [f"Standing preferences of this user for {role} work ({how}):"]
    lines += [f"- {r.rule}" for r in rules]
    return "\n".join(lines)


# --- anthropic backend: an abstractive summary, as in the paper ----------------------------

PERSONA_PROMPT_VERSION = "persona-v1"
PERSONA_SYSTEM = (
    "You read the corrections one user gave an AI assistant while working in one role. State the user's "
    "standing preferences and rules for that role as short imperative rules (\"Run the tests before saying it "
    "works.\"), most supported first, at most {max_rules}. Only rules that would apply again to future work; "
    "no one-off details. For each rule list the numbers of the corrections that support it. Reply with JSON "
    "only: {{\"rules\": [{{\"rule\": \"...\", \"corrections\": [1, 4]}}]}}.")
# A rule as a plain-text line: "- Run the tests first. (1, 4)" / "2. No emojis [3]".
_RULE_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(?P<rule>.+?)\s*"
                        r"(?:[\[(](?:corrections?:?\s*)?(?P<ids>\d+(?:\s*,\s*\d+)*)[\])])?\s*$", re.I)


class LlmRule(pydantic.BaseModel):
    rule: str
    corrections: list[int] = []


class RulesAnswer(pydantic.BaseModel):
    """The rules of a role: JSON as asked, or, from a model that cannot give JSON, a list of lines."""

    rules: list[LlmRule]

    @classmethod
    def from_text(cls, text: str) -> RulesAnswer:
        rules = [LlmRule(rule=m["rule"], corrections=[int(i) for i in re.findall(r"\d+", m["ids"] or "")])
                 for m in map(_RULE_LINE.match, (text or "").splitlines()) if m]
        if not rules:
            raise ValueError(f"no rule in {text[:80]!r}")
        return cls(rules=rules)


MAX_LLM_FEEDBACK = 200  # corrections per role sent to the model (the most recent)
FEEDBACK_CHARS = 500


def llm_rules(todo: dict[str, list[tuple[str, str]]], llm, max_rules: int, yes: bool = False,
              confirm=None) -> dict[str, list[Rule]]:
    """role -> rules, one request per role; the whole cost is shown and confirmed once."""
    from miner.llm import LLMError
    from vault.redact import clip  # redact, then cut

    system = PERSONA_SYSTEM.format(max_rules=max_rules)
    roles = sorted(todo)
    shown = {r: todo[r][-MAX_LLM_FEEDBACK:] for r in roles}
    reqs = [llm.request(system, f"Role: {r}\n\n" + "\n\n".join(
        f"[{i}] {clip(t, FEEDBACK_CHARS)}" for i, (_, t) in enumerate(shown[r], 1))) for r in roles]
    llm.consent(llm.plan(reqs), yes, confirm)
    out = {}
    for r, res in zip(roles, llm.run(reqs, RulesAnswer)):
        if res.value is None:
            raise LLMError(f"no valid persona for {r}: {res.error}")
        fb, rules = shown[r], []
        for x in res.value.rules[:max_rules]:
            ids = list(dict.fromkeys(fb[i - 1][0] for i in x.corrections if 1 <= i <= len(fb)))
            if ids:  # a rule no correction supports is the model's, not the person's
                rules.append(Rule(state_rule(x.rule), len(ids), ids))
        out[r] = rules
    return out


def build_personas(con: duckdb.DuckDBPyConnection, backend: str = "offline", role: str | None = None,
                   threshold: float = THRESHOLD, max_rules: int = MAX_RULES, model=None, llm=None,
                   confirm=None, yes: bool = False, embed_model: str | None = None) -> dict[str, Any]:
    """(Re)build the personas of every role with corrections (or of `role`); edited rows are kept.

    offline: clusters with `model` (a loaded embedding model), else loads `embed_model` (the `embed.model`
    setting; None: the vault's model, else the default).

    backend "offline": clustering (above). backend "anthropic": an abstractive summary per role by
    `llm` (a miner.llm.LLM: redacted, cached); paying needs `yes` or `confirm(plan)` returning True.
    """
    if backend not in ("offline", "anthropic"):
        raise ValueError(f"unknown persona backend {backend!r}; use 'offline' or 'anthropic'")
    if backend == "anthropic" and llm is None:
        raise ValueError("the anthropic persona backend needs an LLM")
    feedback = role_feedback(con, role)
    edited = edited_personas(con)
    todo = {r: fb for r, fb in feedback.items() if r not in edited}
    if backend == "anthropic":
        by_llm = llm_rules(todo, llm, max_rules, yes, confirm)  # before any write: a refusal changes nothing
    elif todo and model is None:
        from vault.index.embeddings import load_model
        from vault.index.settings import model_name

        model = load_model(model_name(con, embed_model))
    report: dict[str, Any] = {"roles": {}, "kept_edited": sorted(edited & set(feedback)), "threshold": threshold,
                              "backend": backend}
    if role is None:  # roles whose corrections are gone (relabelled, deleted) lose their mined persona
        report["removed"] = drop_mined_personas(con, keep=set(feedback))
    sessions = dict(con.execute(
        "SELECT msg_id, session_id FROM messages WHERE msg_id IN (SELECT unnest(?))",
        [[m for fb in todo.values() for m, _ in fb]]).fetchall()) if todo else {}
    for r, fb in sorted(todo.items()):
        rules = by_llm[r] if backend == "anthropic" else rules_for(fb, model, threshold, max_rules, sessions)
        text = persona_text(r, rules, backend) if rules else None
        store_mined_persona(con, r, text, [asdict(x) for x in rules], backend)
        report["roles"][r] = {"corrections": len(fb), "rules": len(rules)}
    return report


def claude_md(persona: dict[str, Any]) -> str:
    """Rules a person can drop into CLAUDE.md / AGENTS.md (an edited persona's own text wins)."""
    lines = [f"## Preferences ({persona['role_name']})", ""]
    rules = persona["rules"] or []
    if rules and not persona.get("edited"):
        lines += [f"- {r['rule']}" for r in rules]
    elif persona.get("text"):
        lines += [ln for ln in persona["text"].splitlines() if not ln.startswith("Standing preferences of")]
    return "\n".join(lines) + "\n"
