"""The kNN column (miner.classify.variants.knn_share / knn_column; bench/miner_cv.py --union recipe "AB-knn"): the
share of corrections among a turn's k nearest labelled turns of other authors, add-one smoothed; the index is the
fit's own training rows, and a blend computes it once from its training rows for both parts. Made-up vectors."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from miner.classify import variants as V

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import miner_cv as CV  # noqa: E402

CORR, OTHER = "reattempt_with_feedback", "new_request"


def _at(*degrees):
    return np.asarray([[math.cos(math.radians(d)), math.sin(math.radians(d))] for d in degrees])


# author, angle of the turn's vector, correction?
ROWS = [("a", 0, True), ("a", 10, True), ("b", 20, True), ("b", 90, False), ("c", 15, False), ("d", 3, False)]


def test_the_values_on_a_small_example():
    vec = _at(*[d for _, d, _ in ROWS]) * 3.0  # cosine: the length does not count
    authors = [a for a, _, _ in ROWS]
    index, correct = [0, 1, 2, 3, 4], [c for _, _, c in ROWS[:5]]
    got = V.knn_share(vec, index, correct, authors, k=2)
    # a@0: c@15 (no), b@20 (yes) -> 2/4; a@10: c@15, b@20 -> 2/4; b@20: c@15, a@10 -> 2/4; b@90: c@15, a@10 -> 2/4
    # c@15: a@10, b@20 -> 3/4; d@3 (not in the index): a@0, a@10 -> 3/4
    assert got.tolist() == pytest.approx([0.5, 0.5, 0.5, 0.5, 0.75, 0.75])
    # fewer than k neighbours of other authors: all of them (b@90: a@0, a@10, c@15 -> 3/5; d: 3 of 5 -> 4/7)
    got = V.knn_share(vec, index, correct, authors, k=10)
    assert got[3] == pytest.approx(3 / 5) and got[5] == pytest.approx(4 / 7)
    assert V.knn_share(vec, [], [], authors, k=2).tolist() == [0.5] * 6  # an empty index: (0 + 1) / (0 + 2)


def test_a_turn_never_counts_its_own_author():
    vec, authors = _at(0, 1, 30, 60, 0), ["a", "a", "b", "b", "x"]
    got = V.knn_share(vec, [1, 2, 3], [True, False, False], authors, k=1)
    assert got[0] == pytest.approx(1 / 3)  # a@0's nearest is a@1 (a correction), its own author's: b@30 instead
    assert got[4] == pytest.approx(2 / 3)  # x, outside the index, reads it whole: a@1
    assert got[1] == pytest.approx(1 / 3)  # an index row is not its own neighbour either


def _examples():
    return [SimpleNamespace(author=a, label=CORR if c else OTHER, ruled=False) for a, _, c in ROWS]


def test_the_index_is_the_modelled_turns_of_the_fit_rows(monkeypatch):
    monkeypatch.setattr(V, "modelled", lambda exs: [i for i, e in enumerate(exs) if not e.ruled])
    ex, E = _examples(), np.hstack([_at(*[d for _, d, _ in ROWS]), np.ones((6, 400))])
    E[:, V.KNN_DIM:] = 5.0  # columns past the turn's vector are not read
    col = V.knn_column(ex, E, [0, 3, 4], k=2)  # a@0 (yes), b@90, c@15 only
    assert col.shape == (6, 1)
    # d@3: a@0, c@15 -> 2/4 (the whole set would give 3/4); a@10 (not a fit row): c@15, b@90 -> 1/4
    assert col[5, 0] == pytest.approx(0.5) and col[1, 0] == pytest.approx(0.25)
    ex[0].ruled = True  # a turn a rule decides is not in the index
    col = V.knn_column(ex, E, [0, 3, 4], k=2)
    assert col[5, 0] == pytest.approx(0.25)  # d@3: c@15, b@90


def test_a_blend_computes_one_column_from_its_training_rows_for_both_parts(monkeypatch):
    import miner.classify.train as T

    rows = [*ROWS, ("e", 12, False)]  # e: in part two's training authors only
    ex = [SimpleNamespace(author=a, label=CORR if c else OTHER) for a, _, c in rows]
    E = np.hstack([_at(*[d for _, d, _ in rows]), np.zeros((7, 766))])
    monkeypatch.setitem(CV._U, "examples", ex)
    monkeypatch.setitem(CV._U, "E", E)
    monkeypatch.setitem(CV._U, "X", np.zeros((7, 3)))
    monkeypatch.setattr(V, "modelled", lambda exs: list(range(len(exs))))
    fits = []
    monkeypatch.setattr(T, "fit", lambda exs, Ef, X=None, inner_folds=None, **kw: fits.append(
        ([e.author for e in exs], Ef, kw)) or len(fits))
    monkeypatch.setattr(T, "blend", lambda a, b, w, th: ("blend", a, b, w, th))
    kw = {"blend": (({"a", "c"}, None, {"knn": 2}), ({"a", "b", "c", "e"}, 10, {"knn": 2}), 0.5), "threshold": 0.25}
    model, scored, Ea = CV.union_fit("c", {"a", "b", "c", "e"}, None, kw)
    assert model == ("blend", 1, 2, 0.5, 0.25) and scored == [4]
    want = V.knn_column(ex, E, [0, 1, 2, 3, 6], k=2)[:, 0]  # a's, b's and e's rows: not the held author's
    assert want[2] == pytest.approx(0.5)  # b@20: e@12 (no), a@10 (yes)
    assert not np.allclose(want, V.knn_column(ex, E, [0, 1, 2, 3, 4, 6], k=2)[:, 0])  # c in the index would differ
    assert not np.allclose(want, V.knn_column(ex, E, [0, 1], k=2)[:, 0])  # ... and so would part one's rows alone
    (au, Eau, kwa), (bu, Ebu, kwb) = fits
    assert au == ["a", "a"] and bu == ["a", "a", "b", "b", "e"]
    assert Eau.shape[1] == Ebu.shape[1] == 769 and kwa["plain_tail"] == kwb["plain_tail"] == 1
    assert Eau[:, -1].tolist() == pytest.approx(want[[0, 1]].tolist())
    assert Ebu[:, -1].tolist() == pytest.approx(want[[0, 1, 2, 3, 6]].tolist())
    assert Ea[:, -1].tolist() == pytest.approx(want.tolist())  # the scoring reads the same column
    assert np.array_equal(Ea[:, :768], E)


def test_ab_knn_is_ab_with_the_column_in_both_parts():
    r = CV.recipe_table({"a"}, {"l"})
    assert r["AB-knn"][:2] == r["AB"][:2]
    parts, knn = r["AB"][2]["blend"][:2], r["AB-knn"][2]["blend"][:2]
    assert [(t, f, {**kw, "knn": V.KNN_K}) for t, f, kw in parts] == list(knn)
    assert r["AB-knn"][2]["blend"][2] == r["AB"][2]["blend"][2] and r["AB-knn"][2]["threshold"] == 0.25
