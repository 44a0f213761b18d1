"""The language-model columns in a blend (bench/miner_cv.py --union recipes "AB-lm-w", "AB-lm-w2.5"): one PCA of the
blend's training rows (the held author's left out), read by both parts' fits and by the scoring. Made-up vectors."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import miner_cv as CV  # noqa: E402

AUTHORS = ["a", "a", "b", "b", "c", "c", "e", "e"]  # c: held out; e: in part two's training authors only


@pytest.fixture
def union(monkeypatch):
    import miner.classify.train as T

    rng = np.random.default_rng(7)
    ex = [SimpleNamespace(author=a, label="new_request") for a in AUTHORS]
    H = rng.normal(size=(8, 6))
    H[4:6] += 40.0  # the held author's rows far off: a PCA that read them would turn toward them
    monkeypatch.setitem(CV._U, "examples", ex)
    monkeypatch.setitem(CV._U, "E", np.zeros((8, 5)))
    monkeypatch.setitem(CV._U, "X", np.zeros((8, 3)))
    monkeypatch.setitem(CV._U, "H", H)
    monkeypatch.setitem(CV._U, "H_known", np.asarray([True] * 7 + [False]))
    monkeypatch.setattr(T, "modelled", lambda exs: list(range(len(exs))))
    fits = []
    monkeypatch.setattr(T, "fit", lambda exs, Ef, X=None, inner_folds=None, **kw: fits.append(
        ([e.author for e in exs], Ef, kw)) or len(fits))
    monkeypatch.setattr(T, "blend", lambda a, b, w, th: ("blend", a, b, w, th))
    return ex, fits


def test_a_blend_reads_one_pca_of_its_training_rows_in_both_parts_and_the_scoring(union):
    ex, fits = union
    kw = {"blend": (({"a", "c"}, None, {"lm": 2, "tail_weight": 5.0}),
                    ({"a", "b", "c", "e"}, 10, {"lm": 2, "tail_weight": 5.0}), 0.5), "threshold": 0.25}
    model, scored, Ea = CV.union_fit("c", {"a", "b", "c", "e"}, None, kw)
    assert model == ("blend", 1, 2, 0.5, 0.25) and scored == [4, 5]
    want = CV.lm_columns(ex, [0, 1, 2, 3, 6, 7], 2)  # a's, b's and e's rows; e's second has no row
    assert not np.allclose(want, CV.lm_columns(ex, [0, 1, 2, 3, 4, 5, 6, 7], 2))  # c's rows would turn the PCA
    assert not np.allclose(np.abs(want), np.abs(CV.lm_columns(ex, [0, 1], 2)))  # ... and part one's rows alone
    assert want[7].tolist() == [0.0, 0.0]  # a turn without a row reads zeros
    (au, Eau, kwa), (bu, Ebu, kwb) = fits
    assert au == ["a", "a"] and bu == ["a", "a", "b", "b", "e", "e"]
    assert kwa["plain_tail"] == kwb["plain_tail"] == 2 and kwa["tail_weight"] == kwb["tail_weight"] == 5.0
    assert Eau.shape[1] == Ebu.shape[1] == Ea.shape[1] == 7
    assert np.allclose(Eau[:, 5:], want[[0, 1]]) and np.allclose(Ebu[:, 5:], want[[0, 1, 2, 3, 6, 7]])
    assert np.allclose(Ea[:, 5:], want)  # the scoring reads the same columns


def test_a_single_fit_still_reads_its_own_pca(union):
    ex, fits = union
    _, scored, E = CV.union_fit("c", {"a", "b", "c"}, None, {"lm": 2})
    assert scored == [4, 5] and fits[0][0] == ["a", "a", "b", "b"]
    assert np.allclose(E[:, 5:], CV.lm_columns(ex, [0, 1, 2, 3], 2)) and fits[0][2]["plain_tail"] == 2


def test_ab_lm_is_ab_with_the_columns_in_both_parts():
    r = CV.recipe_table({"a"}, {"l"})
    for name, weight in (("AB-lm-w", 5.0), ("AB-lm-w2.5", 2.5)):
        assert r[name][:2] == r["AB"][:2]
        want = [(t, f, {**kw, "lm": CV.LM_K, "tail_weight": weight}) for t, f, kw in r["AB"][2]["blend"][:2]]
        assert list(r[name][2]["blend"][:2]) == want
        assert r[name][2]["blend"][2] == r["AB"][2]["blend"][2] and r[name][2]["threshold"] == r["AB"][2]["threshold"]
