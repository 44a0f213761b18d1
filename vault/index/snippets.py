"""Snippets: a short window of a message around its matched terms, with the matches as spans.

A word matches when its Porter stem (the index's, `vault.index.stem`) is a query stem, so "tests"
highlights for the query "testing".
"""

from __future__ import annotations

import functools
import re

from vault.index import stem

WIDTH = 220


def matching_words(texts: list[str], query_stems: set[str]) -> set[str]:
    """Lowercased words of `texts` whose Porter stem is a query stem.

    Porter rewrites only word endings, so only words sharing a stem's first letters are stemmed.
    """
    if not query_stems:
        return set()
    prefixes = sorted({st[:max(1, min(4, len(st) - 1))] for st in query_stems})
    # The words starting with a prefix, found by one regex in C (a Python loop over every word of a long
    # tool output cost more than the rest of a search); identical texts (a shared tool output) scanned once.
    starting = re.compile(rf"(?<![A-Za-z0-9])(?:{'|'.join(map(re.escape, prefixes))})[A-Za-z0-9]*", re.I | re.A)
    words = {w.lower() for t in set(texts) for w in starting.findall(t)}
    if not words:
        return set()
    words = sorted(words)
    return {w for w, s in zip(words, stem.porter(words)) if s in query_stems}


def make(text: str, match_words: set[str], start_hint: int = 0, width: int = WIDTH) -> tuple[str, list[tuple[int, int]]]:
    """(snippet, spans): a window of `text` holding the densest run of matches, or from `start_hint`."""
    start_hint = len(one_line((text or "")[:start_hint]))
    text = one_line(text or "")  # offsets below are in this text
    hits = [m.span() for m in _words_regex(frozenset(match_words)).finditer(text)] if match_words else []
    if hits:
        start = _densest(hits, width)
    else:
        start = start_hint
    start = _snap_left(text, start)
    end = min(len(text), start + width)
    if end < len(text):
        cut = text.rfind(" ", start + width // 2, end)
        end = cut if cut > 0 else end
    body = text[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    spans = [(a + shift, b + shift) for a, b in hits if a >= start and b <= end]
    return prefix + body + suffix, spans


@functools.lru_cache(maxsize=64)
def _words_regex(words: frozenset[str]) -> re.Pattern:
    """Whole words (runs of ASCII letters and digits) equal to one of `words` but for case."""
    alts = "|".join(map(re.escape, sorted(words, key=lambda w: (-len(w), w))))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alts})(?![A-Za-z0-9])", re.I | re.A)


def one_line(text: str) -> str:
    """`text` with each run of blanks (newlines included) made one space, as re.sub(r"\\s+", " ", text) does but faster
    (str.split and re's \\s agree on what is blank; the ends are put back as split drops them)."""
    body = " ".join(text.split())
    if not body:
        return " " if text else ""
    return (" " if text[0].isspace() else "") + body + (" " if text[-1].isspace() else "")


def _densest(hits: list[tuple[int, int]], width: int) -> int:
    """Start of the window (a little before a hit) that covers the most hits."""
    best, best_n, j = hits[0][0], 0, 0
    for i, (a, _) in enumerate(hits):
        while hits[j][0] < a - width:
            j += 1
        if i - j + 1 > best_n:
            best_n, best = i - j + 1, hits[j][0]
    return max(0, best - width // 5)


def _snap_left(text: str, pos: int) -> int:
    if pos <= 0:
        return 0
    space = text.rfind(" ", max(0, pos - 20), pos)
    return space + 1 if space >= 0 else pos


def marked(snippet: str, spans: list[tuple[int, int]], open_: str = "**", close: str = "**") -> str:
    out, last = [], 0
    for a, b in spans:
        out += [snippet[last:a], open_, snippet[a:b], close]
        last = b
    out.append(snippet[last:])
    return "".join(out)
