"""Average-linkage agglomerative clustering of clauses on cosine similarity, plus a bonus per shared content word
(numpy, imported when a persona is built)."""

from __future__ import annotations

import re

WORD_BONUS = 0.2  # added to the similarity of two clauses per shared content word (at most two)

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
