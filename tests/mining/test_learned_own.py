"""bench/miner_own.py: the learning curve of `vault mine --fit` never scores a turn it fine-tuned on, scores the same
turns at every k of a draw, fine-tunes with `train.finetune` (what `miner.mine.fit_own_model` calls) on exactly k
labels, and starts from a base without the author; the held-back estimate's folds hold out exactly one part of an
author. On the repository's own label files (no shared corpora needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from miner.classify import train as T
from miner.classify.dataset import external_examples
from miner.classify.learned import feature_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import miner_own as O  # noqa: E402


@pytest.fixture(scope="module")
def data():
    examples = external_examples()  # data/labels/external-*.jsonl: six authors
    return examples, feature_matrix([e.turn for e in examples])


def test_the_curve_fine_tunes_on_k_own_labels_and_scores_only_the_others(data, monkeypatch):
    examples, X = data
    author = max({e.author for e in examples}, key=lambda a: sum(e.author == a for e in examples))
    seen: dict = {"fit": [], "tune": [], "scored": []}
    real_fit, real_tune, real_predict = T.fit, T.finetune, T.predict

    def fit(ex, *a, **k):
        seen["fit"].append({e.author for e in ex})
        return real_fit(ex, *a, c_grid=(0.003,), **k)

    def finetune(base, ex, *a, **k):
        seen["tune"].append([e.turn.msg_id for e in ex])
        return real_tune(base, ex, *a, **k)

    def predict(model, ex, *a, **k):
        seen["scored"].append(([e.turn.msg_id for e in ex], model.version))
        return real_predict(model, ex, *a, **k)

    monkeypatch.setattr(T, "fit", fit)
    monkeypatch.setattr(T, "finetune", finetune)
    monkeypatch.setattr(T, "predict", predict)
    monkeypatch.setattr(O, "CURVE_K", (0, 3, 8, 10_000))  # 10,000: more than the author has, never drawn
    monkeypatch.setattr(O, "CURVE_DRAWS", 2)
    O._D.update(examples=examples, E=None, X=X, train={e.author for e in examples}, variants=("finetune",))
    name, size, draws = O._curve_author(author, trained=True)
    draws = draws["finetune"]

    assert name == author and size == sum(e.author == author for e in examples)
    assert seen["fit"] == [{e.author for e in examples} - {author}]  # the base holds none of the author's turns
    mine = {e.turn.msg_id for e in examples if e.author == author}
    assert [len(t) for t in seen["tune"]] == [3, 8, 3, 8]  # k labels, drawn from the author's own turns
    assert all(set(t) <= mine for t in seen["tune"])
    scored = [set(ids) for ids, _ in seen["scored"]]
    assert len(scored) == 2 * 3 and all(s <= mine for s in scored)
    for d in range(2):
        per_draw = scored[3 * d: 3 * d + 3]
        assert per_draw[0] == per_draw[1] == per_draw[2]  # the same scored turns at every k of a draw
        assert len(per_draw[0]) == size - 8
        assert not per_draw[0] & set(seen["tune"][2 * d + 1])  # never a turn it was fine-tuned on
    assert "+own-" not in seen["scored"][0][1] and "+own-" in seen["scored"][1][1]  # k = 0 is the base itself
    assert set(draws[0]) == {0, 3, 8} and all(len(c) == 3 for c in draws[0].values())


def test_the_curve_base_is_the_shipped_recipe_without_the_author_when_given(data, monkeypatch):
    # learned-9's recipe is a blend: bench/miner_cv.py passes base_fit (that recipe fitted without the author), and
    # the curve starts from it instead of train.fit on the other training authors
    examples, X = data
    author = max({e.author for e in examples}, key=lambda a: sum(e.author == a for e in examples))
    shipped = T.fit([e for e in examples if e.author != author], None, c_grid=(0.003,))
    asked = []
    monkeypatch.setattr(T, "fit", lambda *a, **k: pytest.fail("train.fit called although base_fit was given"))
    monkeypatch.setattr(O, "CURVE_K", (0, 3))
    monkeypatch.setattr(O, "CURVE_DRAWS", 1)
    O._D.update(examples=examples, E=None, X=X, train={e.author for e in examples}, variants=("finetune",),
                base_fit=lambda a: asked.append(a) or shipped)
    try:
        _, _, draws = O._curve_author(author, trained=True)
    finally:
        O._D.pop("base_fit")
    assert asked == [author] and set(draws["finetune"][0]) == {0, 3}



def test_the_least_sure_variant_labels_the_pool_turns_the_base_is_least_sure_of(data, monkeypatch):
    # RULE30b: the same draw's pool and scored turns; only which k of the pool are labelled differs
    examples, X = data
    author = max({e.author for e in examples}, key=lambda a: sum(e.author == a for e in examples))
    base = T.fit([e for e in examples if e.author != author], None, c_grid=(0.003,))
    sure = {e.turn.msg_id: lab.confidence for e, lab in zip(examples, T.predict(base, examples, None, X), strict=True)}
    tuned, scored = [], []
    real_tune, real_predict = T.finetune, T.predict
    monkeypatch.setattr(T, "finetune", lambda b, ex, *a, **k: tuned.append([e.turn.msg_id for e in ex])
                        or real_tune(b, ex, *a, **k))
    monkeypatch.setattr(T, "predict", lambda m, ex, *a, **k: scored.append([e.turn.msg_id for e in ex])
                        or real_predict(m, ex, *a, **k))
    monkeypatch.setattr(O, "CURVE_K", (0, 3, 8))
    monkeypatch.setattr(O, "CURVE_DRAWS", 1)
    O._D.update(examples=examples, E=None, X=X, train={e.author for e in examples},
                variants=("finetune", O.LEAST_SURE), base_fit=lambda a: base)
    try:
        _, size, draws = O._curve_author(author, trained=True)
    finally:
        O._D.pop("base_fit")
    # the base's own scoring of the author's turns first (the confidences), then per k and variant the same test turns
    test = scored[1]
    assert all(ids == test for ids in scored[1:]) and len(test) == size - 8
    pool = {e.turn.msg_id for e in examples if e.author == author} - set(test)
    random_k3, least_k3 = tuned[0], tuned[1]  # k = 3: the first three drawn, then the three least sure
    least = sorted(pool, key=lambda m: sure[m])
    assert sorted(least_k3) == sorted(least[:3]) and set(random_k3) <= pool
    assert max(sure[m] for m in least_k3) <= min(sure[m] for m in pool - set(least_k3))
    assert set(draws) == {"finetune", O.LEAST_SURE}
    assert draws["finetune"][0][0] == draws[O.LEAST_SURE][0][0]  # k = 0: the base, the same counts
    assert O.least_sure([5, 6, 7], {5: 0.9, 6: 0.4, 7: 0.4}) == [6, 7, 5]  # ties keep the pool's order

def test_the_held_back_estimate_holds_out_one_part_of_an_author(data, monkeypatch):
    examples, X = data
    calls = []
    real_fit = T.fit
    monkeypatch.setattr(T, "fit", lambda ex, *a, **k: real_fit(ex, *a, c_grid=(0.003,), **k))  # one L2: quicker
    monkeypatch.setattr(O, "_pool", lambda jobs, fn, tasks: calls.append([t[0] for t in tasks]) or
                        [fn(*t) for t in tasks])
    O._D.clear()
    authors = sorted({e.author for e in examples})[:2]
    out = O.same_authors(examples, None, X, set(authors), (0.35,), jobs=1)
    block, session, author = calls
    mine = {a: {i for i, e in enumerate(examples) if e.author == a} for a in authors}
    for folds in (block, session, author):
        assert sorted(i for f in folds for i in f) == sorted(set().union(*mine.values()))  # every turn once
        assert all(any(set(f) <= m for m in mine.values()) for f in folds)  # a fold is one author's
    assert all({examples[i].turn.session_id for i in f} and len({examples[i].turn.session_id for i in f}) == 1
               for f in session)
    assert len(author) == 2 and len(block) == sum(min(O.BLOCKS, len(m)) for m in mine.values())
    assert set(out) == {"in-sample (upper bound)", f"leave-one-block-out ({O.BLOCKS} contiguous blocks an author)",
                        "leave-one-session-out", "leave-one-author-out (floor)"}
    scored = sum(len(m) for m in mine.values())
    for r in out.values():  # every scheme scores every turn of the authors once, at each threshold
        assert set(r["at"]) == {"operating", "inner", "0.35"}
        assert all(sum(c["tp"] + c["fn"] for c in [r["at"][t]]) == sum(
            e.label == "reattempt_with_feedback" for e in examples if e.author in authors) for t in r["at"])
        assert sum(len(f) for f in calls[0]) == scored


def test_curve_change_is_the_mean_per_author_f1_difference_over_k_10_and_25():
    def author(c0, c10, c25):
        return {"counts": {0: c0, 10: c10, 25: c25}}

    curve = {"a": {"authors": {"x": author([1, 1, 1], [1, 1, 1], [1, 1, 1]), "y": author([2, 0, 0], [1, 0, 1], [1, 0, 1])},
                   "pooled": {}},
             "b": {"authors": {"x": author([1, 1, 1], [2, 0, 0], [2, 0, 0]), "y": author([2, 0, 0], [1, 0, 1], [0, 1, 1])},
                   "pooled": {}}}
    out = O.curve_change(curve, "a", "b", draws=50)
    # x: F1 0.5 -> 1.0 at both k (+0.5); y: 2/3 -> 2/3 at 10, 2/3 -> 0 at 25 (-1/3 mean): D = (0.5 - 1/3) / 2
    assert out["b - a"]["D"] == pytest.approx((0.5 - 1 / 3) / 2, abs=1e-4)
    assert out["b - a"]["per_author"] == {"x": 0.5, "y": -0.333}
    lo, hi = out["b - a"]["90%"]
    assert -1 / 3 <= lo <= hi <= 0.5 and out["k0_same"] is True
