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
from miner.classify.cues import found_at_word_start, lowered_pattern, plain

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
    r"\bthe (?:issue|problem|error|bug) (?:is|was)\b|"
    r"\bисправ\w*|\bkorjaa\w*|修复|修正|改正")
_FIX_OPEN = re.compile(r"\W*(?:ah|oh|hmm)\b")  # an answer opening on "Ah," / "Oh," / "Hmm": matched at its start
# Agreeing with a point the person made (a suggestion, a change): weaker than an acknowledged mistake.
_AGREE = lowered_pattern(
    r"\b(?:good|great|excellent|fair|valid|nice) (?:point|call|idea|suggestion|thought|question)s?\b|"
    r"\bhyvä (?:idea|pointti|kysymys)\b|\bхорошая идея\b|好主意|好建议|好建議")
_NEW = lowered_pattern(
    r"\A\W*(?:(?:great|sure|okay|ok|perfect|certainly|absolutely|excellent)[!,.]?\s+)?(?:i'?ll|i will|let me|"
    r"let's|i'?m going to)\s+(?:start|begin|create|add|implement|build|set up|write|help|look|explore|check|"
    r"analy[sz]e|read|search|first)\b")
# The patterns above are the definitions; `_ack`, `_fix`, `_agree` find the same faster. An alternation led by \b
# makes Python's re try every position (~100 us on a 300-character head): each branch group runs only on heads
# holding the literals (any of `need`, and any of `also`) that its every match contains; `in` is C-fast. A group whose
# every `need` literal holds a Cyrillic or CJK character is skipped at once on a head without one (`_WIDE`): most heads.
_Group = tuple[tuple[str, ...], tuple[str, ...], re.Pattern, bool, bool]
_WIDE = re.compile("[\u0400-\u04ff\u3000-\u9fff\uff00-\uffef]")


def _groups(pattern: re.Pattern, spec: list[tuple[tuple[str, ...], tuple[str, ...], int]]) -> list[_Group]:
    """`pattern`'s top-level branches, grouped as `spec` says (need, also, number of branches), each compiled."""
    branches = _branches(pattern.pattern)
    out: list[_Group] = []
    i = 0
    for need, also, n in spec:
        group = branches[i:i + n]
        bounded = all(b.startswith(r"\b") for b in group)  # the word boundary checked by hand (found_at_word_start): re skips ahead
        if bounded:
            group = [b[2:] for b in group]
        wide = all(_WIDE.search(k) for k in need)
        out.append((need, also, re.compile("|".join(group)), bounded, wide))
        i += n
    assert i == len(branches), (i, len(branches))
    return out


def _branches(regex: str) -> list[str]:
    """The top-level alternatives of `regex`."""
    depth, start, out, esc, cls = 0, 0, [], False, False
    for j, ch in enumerate(regex):
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif cls:
            cls = ch != "]"
        elif ch == "[":
            cls = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(regex[start:j])
            start = j + 1
    return out + [regex[start:]]


def _wide(lower: str) -> bool:
    return not lower.isascii() and _WIDE.search(lower) is not None


def _find(groups: list[_Group], lower: str, wide: bool | None = None) -> bool:
    """Any group's branches match `lower` (`wide`: `_wide(lower)`, when the caller has it). Plain loops, not
    any(<generator>): a generator per group cost as much as the searches it made."""
    if wide is None:
        wide = _wide(lower)
    for need, also, p, bounded, wide_only in groups:
        if wide_only and not wide:
            continue
        for k in need:
            if k in lower:
                break
        else:
            continue
        if also:
            for k in also:
                if k in lower:
                    break
            else:
                continue
        if found_at_word_start(p, lower) if bounded else p.search(lower) is not None:
            return True
    return False


_YOU = ("you", )
_ACK_GROUPS = _groups(_ACK, [
    (("right", "correct"), _YOU, 2), (("catch", "spot"), (), 1), (("apologi",), (), 2), (("sorry",), (), 1),
    (("my ",), ("mistake", "bad", "error", "fault", "apologies"), 1),
    (("misunderstood", "misread", "overlooked", "missed", "made a"), (), 1),
    (("mistake", "error", "oversight"), ("that",), 1), (("should",), (), 1),
    (("catching", "pointing", "correction", "clarifying"), ("thank",), 1), (("correct",), _YOU, 1),
    (("说得对", "說得對", "是对的", "是對的", "抱歉", "对不起", "對不起", "我的错", "我的錯", "不好意思", "我理解错",
      "我理解錯"), (), 12),
    (("прав", "извин", "прощения", "ошибка", "виноват"), (), 5),
    (("oikeassa", "pahoittel", "anteeksi", "huomio", "virheeni", "razón", "perd", "disculp", "recht", "entschuldig",
      "raison", "désolé"), (), 12)])
_FIX_GROUPS = _groups(_FIX, [
    (("fix", "correct", "revert", "redo", "undo", "roll", "change that", "update that", "adjust", "rewrite",
      "try again", "re-", "rerun", "retry", "reapply", "reimplement", "readd", "recheck", "remove"),
     ("let me", "ill", "i'll", "i need to", "going to"), 1),
    (("issue", "problem", "error", "bug", "mistake"), (), 2), (("исправ",), (), 1), (("korjaa",), (), 1),
    (("修复", "修正", "改正"), (), 3)])
_AGREE_GROUPS = _groups(_AGREE, [(("point", "call", "idea", "suggestion", "thought", "question"), (), 1),
                                 (("hyvä",), (), 1), (("хорошая идея", "好主意", "好建议", "好建議"), (), 4)])
_EDIT_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
_RUN_TOOLS = ("Bash", "shell", "exec_command")
# A tool line's "[Tool] " head (miner.render.tool_line; a tool line has no newline) -> the tools of its kind
_TOOLS_OF = {f"[{tool}] ": tools for tools in (_EDIT_TOOLS, _RUN_TOOLS) for tool in tools}
_EDIT = re.compile(rf"^\[(?:{'|'.join(_EDIT_TOOLS)})\] (\S.*)$", re.MULTILINE)
_RUN = re.compile(rf"^\[(?:{'|'.join(_RUN_TOOLS)})\] (\S.*)$", re.MULTILINE)

NAMES = ["after:known", "after:silent", "after:ack", "after:agree", "after:fix", "after:new",
         "after:calls_known", "after:reedit", "after:rerun"]
FAMILIES = ("after",)

PRIOR = {"after:ack": 2.5, "after:agree": 0.5, "after:fix": 0.8, "after:new": -0.5, "after:reedit": 0.5, "after:rerun": 0.3}


def vector(t: Turn) -> list[float]:
    """The family's features in `NAMES` order."""
    head = t.next_assistant
    known = head is not None
    lower = plain(head[:HEAD]).lower() if head else ""
    wide = _wide(lower)
    ack = _find(_ACK_GROUPS, lower, wide)
    agree = not ack and _find(_AGREE_GROUPS, lower, wide)
    fix = _find(_FIX_GROUPS, lower, wide) or (bool(lower) and _FIX_OPEN.match(lower) is not None)
    new = bool(lower) and not ack and _NEW.match(lower) is not None
    calls = t.next_calls
    reedit = rerun = False
    if calls and t.prev_assistant:  # the answer before is read only for what the next one edits or runs
        lines: set[str] | None = None  # its lines: a redo is a "[Tool] target" line there (what _EDIT / _RUN find)
        for c in dict.fromkeys(calls):  # a call made twice is looked up once
            tools = _TOOLS_OF.get(c[:c.find("] ") + 2])
            if tools is None or (reedit if tools is _EDIT_TOOLS else rerun):
                continue
            target = c[c.index("] ") + 2:]
            if not target[:1].strip():
                continue
            if lines is None:
                lines = set(t.prev_assistant.split("\n"))
            if c in lines or any(f"[{tool}] {target}" in lines for tool in tools):  # the same tool first: most redos
                if tools is _EDIT_TOOLS:
                    reedit = True
                else:
                    rerun = True
                if reedit and rerun:
                    break
    return [float(known), float(known and not head), float(ack), float(agree), float(fix), float(new),
            float(calls is not None), float(reedit), float(rerun)]


def acknowledges(head: str | None) -> bool:
    """The head of an answer's prose (as `Turn.next_assistant` holds it) acknowledges a mistake or announces a repair:
    the family's `ack` or `fix` feature. The pair filters read it too (miner.filters: the look-ahead gate and
    `acknowledged_after`), so the miner and the pairs detect an acknowledgement one way."""
    features = dict(zip(NAMES, vector(Turn("", "", "", "", 0, next_assistant=head))))
    return bool(features["after:ack"] or features["after:fix"])
