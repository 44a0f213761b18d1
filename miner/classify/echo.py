"""The `echo` family: the turn says again what the person asked earlier in the session (a standing instruction
repeated: "use rustup" two requests after "always run cargo through rustup").

ctx:resend_sim reads a near-verbatim re-send of the last requests and `restate` (lost, followup.py) the overlap
with the previous request; this family reads the earlier requests *before* the previous one, by their words: the
share of the turn's content words (3+ letters, not a function word) that an earlier request held. Reach: the
requests in `Turn.context` (miner.turns.CONTEXT_TURNS (role, text) pairs, about three requests), minus the last.

- `echo:share`: the largest such share (0 when the turn has fewer than 3 content words or no earlier request);
- `echo:repeat`: that share is at least one half.

Its prior (log-odds towards a correction the regression starts from) is set by meaning before any figure.
"""

from __future__ import annotations

NAMES = ["echo:share", "echo:repeat"]
FAMILIES = ("echo",)
PRIOR = {"echo:repeat": 0.5}
REPEAT = 0.5
MIN_WORDS = 3

_FUNCTION = frozenset(
    "the and for you your with that this from have has had are was were will would can could should not but all "
    "any its it's into out now then than them they their there here what when where which who why how use using "
    "also just only please make sure let let's lets get got one two some more most very much like want need "
    "does did done doing don't dont can't cant yes okay thanks thank again".split())


def content_words(normalised: str) -> frozenset[str]:
    """The content words of a text passed through heuristic._normalise (lowercase words joined by spaces)."""
    return frozenset(w for w in normalised.split() if len(w) >= 3 and w not in _FUNCTION)


def vector(words: frozenset[str], earlier: list[str]) -> list[float]:
    """The family's features in NAMES order: `words` the turn's content words, `earlier` the normalised earlier
    requests before the previous one."""
    if len(words) < MIN_WORDS or not earlier:
        return [0.0, 0.0]
    share = max(len(words & content_words(u)) for u in earlier) / len(words)
    return [share, float(share >= REPEAT)]
