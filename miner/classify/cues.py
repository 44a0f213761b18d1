"""Cue families for the heuristic classifier: what a person's words and the turn's shape say.

Each family is a named, weighted list of patterns, so a label can say which cues
fired (`Label.reasons`) and each family can be tested on its own. Weights are
log-odds contributions towards "this turn corrects the assistant"; negative
weights are the false friends (an answer to the assistant's question, a polite
new request). They were set from the RLHI taxonomy and the label conventions in
the corpora README, by family, not fitted to individual lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


# Typographic quotes as keyboards, phones and chat apps type them ("don\u2019t", "you\u2019re"): the patterns below are
# written with ASCII ones, so text is read through `plain` first.
_TYPOGRAPHIC = (("\u2019", "'"), ("\u2018", "'"), ("\u02bc", "'"), ("\u201c", '"'), ("\u201d", '"'))


def plain(text: str) -> str:
    """`text` with typographic quotes made ASCII (the same length, so offsets hold). Answers are long: a scan per
    quote in C costs a fraction of str.translate's per-character mapping (bench/miner_speed.py)."""
    if text.isascii():
        return text
    for typed, ascii_quote in _TYPOGRAPHIC:
        if typed in text:
            text = text.replace(typed, ascii_quote)
    return text


@dataclass(frozen=True)
class Cue:
    name: str
    weight: float
    pattern: re.Pattern
    anchored: bool = False  # starts with \A: `match` decides at once where `search` would scan the text
    # The same regex without IGNORECASE, for text lowercased once by the caller (`search_lowered`): case-
    # insensitive matching costs re about twice as much. None when the regex has a case-sensitive part.
    lowered: re.Pattern | None = None

    def search(self, text: str) -> bool:
        return (self.pattern.match(text) if self.anchored else self.pattern.search(text)) is not None

    def search_lowered(self, text: str, lower: str) -> bool:
        """`search(text)`, given `lower` = text.lower(): the same answer, cheaper when `lowered` exists."""
        if self.lowered is None:
            return self.search(text)
        return (self.lowered.match(lower) if self.anchored else self.lowered.search(lower)) is not None


def _cue(name: str, weight: float, regex: str) -> Cue:
    return Cue(name, weight, re.compile(regex, re.IGNORECASE | re.MULTILINE), regex.startswith(r"\A") and "|" not in
               _top_level(regex), lowered_pattern(regex, re.MULTILINE))


def found_at_word_start(p: re.Pattern, lower: str) -> bool:
    """A match of `p` that starts at a word boundary, for a pattern whose every branch starts with a word character:
    checked by hand because a leading \\b (or an alternation) makes re try every position (2.3x slower on answers)."""
    pos = 0
    while (m := p.search(lower, pos)) is not None:
        start = m.start()
        if start == 0 or not (lower[start - 1].isalnum() or lower[start - 1] == "_"):
            return True
        pos = start + 1
    return False


def lowered_pattern(regex: str, flags: int = 0) -> re.Pattern | None:
    """`regex` compiled to match lowercased text as `re.IGNORECASE` matches the original, or None when it
    cannot: an upper-case letter outside an escape (`\\b`, `\\W` are escapes) or a `(?-i:` group."""
    bare = re.sub(r"\\.", "", regex)
    if "(?-i" in regex or any(ch.isupper() for ch in bare):
        return None
    return re.compile(regex, flags)


def _top_level(regex: str) -> str:
    """The regex with its groups removed: a top-level `|` means not every branch is anchored."""
    depth, out = 0, []
    for i, ch in enumerate(regex):
        if ch == "(" and (i == 0 or regex[i - 1] != "\\"):
            depth += 1
        elif ch == ")" and (i == 0 or regex[i - 1] != "\\"):
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


_NEG = r"(?:not|n't|nt|never|no longer)"
_BREAK_VERBS = (r"(?:work|working|worked|show|showing|shown|load|loading|run|running|compile|build|start|"
                r"appear|appearing|change|changed|fix|fixed|help|render|rendering|display|displaying|"
                r"connect|respond|open|exist|pass|passing|do anything|seem to work|reflect|match|follow|include|cover|"
                r"handle|address|solve|resolve|answer|sound right|look right|feel right)")
_SUBJECT = (r"(?:it|this|that|thing|button|page|app|plugin|server|site|tests?|build|script|command|code|fix|"
            r"version|link|ui|endpoint|feature|function|query|login|install|one|image|file|output|container|"
            r"service|layout|style|form|api|request|response|hook|job|pipeline|deploy|import|still|now|also|"
            r"message|commit|readme|docs?|changes?|text|title|description|name|table|list|summary|plan)")

# Words of the person about the assistant's last answer: explicit negative feedback.
CORRECTION_CUES: tuple[Cue, ...] = (
    _cue("negation_opening", 3.0, r"\A\W*(?:no+(?! one\b| matter\b| problem\b| worries\b| rush\b| pressure\b| doubt\b)|nope|nah|nooe|wrong|incorrect|not quite|not really|not that|"
                                  r"that's not|that is not|thats not|this is not|this isn't|that isn't)\b"),
    _cue("still_broken", 3.0, rf"\b(?:still|again)\b.{{0,40}}\b(?:{_NEG}|fail\w*|broken|error\w*|wrong|same|spinning|"
                              r"stuck|crash\w*|missing)\b|\bi still (?:see|get|getting|have|hear|can)\b|"
                              r"\bstill (?:shows?|showing|there|happening|appears?|the same)\b"),
    # Quality complaints about what was delivered: "it doesn't sound like music", "they all look the same".
    _cue("sounds_wrong", 2.4, r"\b(?:it|this|that|they|these|those|everything|all of \w+)\s+(?:\w+\s+)?"
                              r"(?:does|do|did)n'?t (?:\w+ )?(?:sound|look|feel|read|seem)\b|"
                              r"\b(?:sound|look|feel|read|seem|are|is)s? (?:all )?(?:exactly )?(?:the same|identical)\b"),
    # An objection phrased as a question: "aren't we working on X here?", "shouldn't Y be the active one?"
    _cue("objection_question", 2.2, r"\A\W*(?:but |so |and |wait,? )?(?:aren'?t|isn'?t|shouldn'?t|wasn'?t|didn'?t|"
                                    r"doesn'?t|wouldn'?t|weren'?t|hasn'?t|haven'?t) (?:we|you|it|that|this|there|"
                                    r"the \w+|\w+)\b"),
    _cue("dislike", 2.4, r"\bi (?:really )?(?:dislike|don'?t like|do not like|hate|am not happy|'m not happy|"
                         r"am not a fan|'m not a fan)\b"),
    # A failure of the thing being built ("it doesn't load", "the button does not work"); a
    # general statement ("change can't happen if ...") has another subject and does not count.
    _cue("does_not_work", 2.6, rf"\b{_SUBJECT}\s+(?:\w+\s+)?\w*(?:does|did|is|are|was|were|do|will|wo|ca|can|could)"
                               rf"\s*{_NEG}\s*(?:seem to |even |really |actually |just |\w+ly )?{_BREAK_VERBS}\b"),
    _cue("broken_outcome", 2.0, r"(?:\b(?:it|this|that|still|just|\w*b)\s*(?:does|did|is|was|are|were|do|wo|ca)n'?t (?:work|load|show|start|run)\b|\b(?:not available|unavailable|empty (?:response|data|result|output|page|screen)|returned (?:empty|nothing|null)|no response|does nothing|nothing happens|nothing happened|just spins|spinning|stuck|hangs|"
                                r"froze|frozen|crash(?:es|ed|ing)?|broke|broken|blank (?:page|screen)|"
                                r"same (?:error|issue|problem|bug|crash|failure)|no change|no difference|"
                                r"(?:load|request|build|test|tests|it) failed|fails?\b))"),
    _cue("i_meant", 3.0, r"\b(?:i meant|i mean\b|i said|i told you|i asked (?:you )?(?:for|to)|as i said|"
                         r"what i (?:meant|wanted|asked)|not what i|that's not what|you misunderstood|"
                         r"i didn't (?:ask|want|say)|i did not (?:ask|want|say)|"
                         r"i thought (?:you|we|it|this|that) (?:would|were|was|had|should|could))"),
    _cue("you_failed", 2.6, r"(?:\A|[.!?,;:]\s*|\b(?:but|and|so|now|because|since|yet|why (?:have|did))\s+)you (?:forgot|missed|skipped|ignored|didn't|did not|haven't|have not|never|"
                            r"broke|removed|deleted|changed|made a mistake|are wrong|were wrong|got it wrong|still|"
                            r"should(?:n't| not)? have|shouldn't|keep (?:doing|making|adding|using))\b"),
    _cue("instead", 2.2, r"\b(?:instead|rather than|not the\b.{0,30}\bbut\b|better (?:to|if you)|"
                         r"(?:it|this|that) (?:would|might) (?:seem )?(?:be )?(?:best|better) (?:to|if)|i(?:'d| would) prefer|"
                         r"let's not|lets not|let's use|don't use|do not use|use .{1,40} not\b)"),
    _cue("stop_wait", 2.4, r"\A\W*(?:wait|hold on|hang on|stop|whoa|woah|hmm+,? no|sorry to interrupt|"
                           r"actually|no wait)\b"),
    _cue("dont", 1.8, r"(?:^|[.!,;]\s*|\b(?:please|but|and)\s+)(?:don't|do not|dont|stop)\s+\w+"),
    _cue("why_did_you", 2.4, r"\bwhy (?:did|would|are|were|is|does|do|didn't|don't|haven't|isn't|wasn't|not)\b|"
                                r"\bwhere did (?:that|this|it|these|those) come from\b"),
    _cue("skipped_step_question", 2.4, r"\b(?:did|have|has) you (?:also |actually |even |really )?"
                                       r"(?:run|test|check|read|update|document|commit|verify|try|tried|look|"
                                       r"looked|consider|considered|follow|include|add|remove|push|save|build|"
                                       r"restart|deploy|use|compare|confirm|gather|ask|setup|set up|install|see|write|fix)\w*\b|"
                                       r"\byou(?:'ve| have) (?:\w+ )?(?:tested|run|checked|verified|pushed|committed|"
                                       r"tried|read)\b[^?]{0,80}\?|\A\W*(?:and |but )?what about\b"),
    _cue("should_be", 1.6, r"\b(?:it|this|that|they|these|the \w+) (?:should|must|needs to|need to|has to|have to|"
                           r"is supposed to|are supposed to|was supposed to)\b|\bshould(?:n't| not) (?:be|have)\b|"
                           r"\bsupposed to\b|\bshould(?:n'?t| not)\b"),
    _cue("wrong_word", 2.2, r"\b(?:wrong|incorrect|inaccurate|mistake|mistaken|not correct|not right|isn't right|"
                            r"typo|bug in your|confus\w+|hallucinat\w+|made up|doesn't exist|does not exist|"
                            r"doesn't make sense|not true|that's false|regress\w*|mess(?:ed up|y)?|the mess)\b"),
    _cue("too_much", 2.4, r"\b(?:too (?:long|short|verbose|complex|complicated|much|many|wordy|big|small|slow|generic|"
                          r"vague)|overkill|over-?engineer\w*|over-?complicat\w*|simpler|shorter|less verbose|"
                          r"more concise|keep it (?:short|simple|brief)|no emojis?|without (?:the )?emojis?|"
                          r"skip (?:the )?(?:preamble|intro\w*|summary|explanation|fluff)|no preamble|"
                          r"get to the point|(?:just|only) the (?:code|answer|snippet|diff|command))\b"),
    _cue("undo", 2.4, r"\b(?:revert|undo|roll ?back|go back to|put (?:it|that|them) back|restore (?:the|it))\b"),
    _cue("change_delivered", 1.4, r"\b(?:(?:make|do) (?:one|a|another|some|two|a few) (?:correction|change|fix|edit)s?|"
                                  r"correct (?:it|this|that|the)|fix (?:it|this|that|the)|change (?:it|this|that|the)|"
                                  r"rename|remove (?:the|it|this|that)|drop (?:the|it)|move (?:it|this|that|the)|"
                                  r"ignore|just (?:list|show|keep|use|do|give)|only (?:list|show|keep|use|include)|"
                                  r"focus (?:on|only)|exclude|leave out|without (?:the|any)|"
                                  r"please correct|correction)\b"),
    _cue("not_x", 1.8, r"\A\W*not(?: yet| really| quite| exactly)?\b"),
    _cue("frustration", 2.4, r"\b(?:we keep|keep having|again and again|for the (?:second|third|\w+th) time|"
                             r"grasping|going (?:around )?in circles|we started with something that worked|"
                             r"made it worse|worse than|ugh|argh|seriously|come on|"
                             r"(?:forg[eo]t\w*|ignor\w+|not following)\b.{0,40}\bagain)\b|\?!|!\?"),
    _cue("works_but", 2.0, r"\bworks?\b.{0,60}\bbut\b.{0,60}\b(?:not|n't|error|fail\w*|broken|nothing)\b|"
                           r"\b(?:on|in) (?:\w+ ){0,3}(?:it )?(?:works?|is fine)\b.{0,40}\b(?:on|in)\b.{0,40}\b"
                           r"(?:not|n't|error|fail\w*)\b"),
    _cue("cannot_follow", 1.6, r"\b(?:i (?:can't|cannot|can not|couldn't|am unable to|don't see|do not see|"
                               r"see no|get (?:a|an|the)? ?(?:error|exception|blank|404|500))|there is no|there's no|"
                               r"(?:won'?t|doesn'?t|does not|will not|can'?t) (?:open|start|load|launch|connect)|not (?:there|found|visible|showing))\b"),
)

# The text is, or quotes, a failure: an error message, a stack trace, a log line with an error level.
_ERROR_ANY_CASE = (r"\b\w*(?:error|exception)\b[:\s]|\btraceback \(most recent|\berror\b[:\s]|"
                   r"\b(?:request|build|load|test|tests|command|install|start|session)\s+failed\b|"
                   r"refused|not an object|undefined is not|cannot read propert|"
                   r"\bnull\b.{0,20}\b(?:data|response)|\b(?:4\d\d|5\d\d) (?:error|not found|bad|internal)|"
                   r"^\s*(?:e|error|fatal)\b.{0,30}\d|panic:|segmentation fault|command not found|"
                   r"no such file|permission denied|exit code [1-9]|returned non-zero|"
                   r'"(?:error|errors|detail)"\s*:|"(?:data|result|body)"\s*:\s*null')
_ERROR_UPPER = r"\bFAIL(?:ED)?\b"  # a test runner's verdict; "fail" in prose is a broken_outcome cue
ERROR_PASTE = (
    _cue("error_text", 2.0, rf"(?:{_ERROR_ANY_CASE}|(?-i:{_ERROR_UPPER}))"),
)
# error_text as two cheaper regexes: the case-insensitive part on lowercased text, the verdict on the text.
ERROR_LOWERED = (lowered_pattern(_ERROR_ANY_CASE, re.MULTILINE), re.compile(_ERROR_UPPER))


def error_text(text: str, lower: str) -> bool:
    """`ERROR_PASTE[0].search(text)`, given `lower` = text.lower()."""
    return ERROR_LOWERED[0].search(lower) is not None or ERROR_LOWERED[1].search(text) is not None


# False friends: an approval or an answer to the assistant's question, a polite new request.
ANSWER_CUES: tuple[Cue, ...] = (
    _cue("approval", -2.4, r"^\W*(?:y|yes|yeah|yep|yup|sure|ok|okay|k|go|go ahead|do it|proceed|please proceed|"
                           r"(?:please )?(?:implement|apply|do|go with|use) (?:your|the|that|this) "
                           r"(?:recommend\w*|suggest\w*|plan|fix|option|approach|proposal)|"
                           r"sounds good|please do|let's do it|lets do it|let's go|approved?|confirm(?:ed)?|"
                           r"correct|right|exactly|agreed|option [a-e1-9]|[a-e1-9])\b\W*"),
    _cue("polite_request", -0.6, r"^\W*(?:can|could|would|will) you\b|^\W*please\b|^\W*(?:let's|lets|now|next)\b|"
                                 r"\bi(?:'d| would) like (?:you )?to\b|\bcan we\b"),
    _cue("new_task", -1.4, r"\b(?:now|next),? (?:i(?:'d| would) like|let's|lets|can you|please|we)\b|"
                           r"\b(?:next|another|new) (?:task|step|thing|feature|question|issue)\b|"
                           r"\bmoving on\b|\bon to\b"),
)

PRAISE = _cue("praise", 0.0, r"\b(?:works?|worked|(?:is|it's|its) working|work(?:s|ed)? (?:now|great|perfectly|fine)|perfect|great|"
                             r"awesome|excellent|amazing|brilliant|fantastic|nice|cool|lgtm|looks good|look good|"
                             r"well done|good job|good work|thanks?|thank you|thx|ty|love it|beautiful|nailed it|"
                             r"that did it|that fixed it|fixed|solved|success\w*|yay|wonderful|great place|"
                             r"makes sense|spot on|good|very good|good stuff)\b|!{2,}|^\W*(?:ok|okay),? (?:great|good|nice|cool)\W*$")

# Verbatim or near re-sends are judged by similarity; these are re-attempts with no new words.
CONTINUE = _cue("continue", 0.0, r"^\W*(?:please |ok,? |okay,? )?(?:continue|keep going|go on|carry on|resume)\b"
                                 r"[^?\n]{0,16}$|^\W*(?:please |ok,? |okay,? )?(?:continue|keep going|go on|carry on|resume|"
                                 r"try again|retry|again|one more time|do it again|finish(?: it)?|"
                                 r"you stopped|you got cut off|are you (?:still )?there|still there|\?+)\W*$")

# The assistant's answer just before: a claim that the work is done, or a question to the person.
# Every branch starts with a letter ("is", "are" and "redeployed", "deployed" spelt apart): the fast twins need it.
_CLAIMS = (r"should (?:now )?(?:work|be (?:fixed|working|resolved|there|visible))", r"now (?:works|working|fixed)",
           r"is (?:now )?(?:fixed|resolved|done|working|complete|ready)",
           r"are (?:now )?(?:fixed|resolved|done|working|complete|ready)",
           r"i(?:'ve| have) (?:fixed|updated|changed|resolved|implemented|added|removed)", r"fixed (?:the|it)",
           r"redeployed", r"deployed", r"rebuilt", r"try (?:it )?(?:again|now)", r"reload", r"refresh", r"restart",
           r"test (?:it|this|now|again)", r"please (?:test|try|check)", r"all (?:\d+ )?tests pass", r"successfully",
           r"done\b", r"complete[sd]?\b")
CLAIMED_DONE = re.compile(r"\b(?:" + "|".join(_CLAIMS) + r"|✅)", re.IGNORECASE)
_ASKS = (r"want me to", r"shall i", r"should i", r"would you like", r"do you want", r"let me know",
         r"which (?:one|option)", r"sound (?:good|right)", r"does (?:this|that) (?:look|sound)", r"ready to",
         r"or would you prefer", r"what would you like")
_ASK_END = r"\?\s*(?:\*\*)?\s*$"  # the answer ends on a question
ASKED_USER = re.compile(r"(?:" + _ASK_END + r"|\b(?:" + "|".join(_ASKS) + r")\b)", re.IGNORECASE)

CLAIMED_DONE_LOWERED = lowered_pattern(CLAIMED_DONE.pattern)
ASKED_USER_LOWERED = lowered_pattern(ASKED_USER.pattern)
# Their fast twins on lowercased text (claimed_done_lowered, asked_user_lowered; 1.6x and 2x faster on answers): the
# leading \b taken off, so that re skips ahead to the branches' first letters, and the word boundary checked by
# found_at_word_start; "✅" apart (a \b before it wants a word character before it).
_CLAIM_WORDS = re.compile("|".join(_CLAIMS))
_CHECK_AFTER_WORD = re.compile(r"\w✅")
_ASK_WORDS = re.compile(r"(?:" + "|".join(_ASKS) + r")\b")
_ASK_END_RE = re.compile(_ASK_END)


def claimed_done_lowered(lower: str) -> bool:
    """`CLAIMED_DONE_LOWERED.search(lower) is not None`, faster."""
    return found_at_word_start(_CLAIM_WORDS, lower) or ("✅" in lower and _CHECK_AFTER_WORD.search(lower) is not None)


def asked_user_lowered(lower: str) -> bool:
    """`ASKED_USER_LOWERED.search(lower) is not None`, faster."""
    return _ASK_END_RE.search(lower) is not None or found_at_word_start(_ASK_WORDS, lower)


# Cues that report a failure of what the assistant delivered (as opposed to a wish or a rule).
FAILURE_CUES = frozenset({"still_broken", "does_not_work", "broken_outcome", "works_but", "cannot_follow"})


def fired(cues: tuple[Cue, ...], text: str, lower: str | None = None) -> list[Cue]:
    """The cues of `cues` found in `text` (`lower`: text.lower(), when the caller has it: cheaper)."""
    if lower is None:
        return [c for c in cues if c.search(text)]
    return [c for c in cues if c.search_lowered(text, lower)]
