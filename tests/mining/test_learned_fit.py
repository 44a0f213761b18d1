"""How `train.fit` chooses and applies its correction threshold (learned-7), and how its inner cross-validation
groups authors; on the repository's own label files (no shared corpora needed)."""

from __future__ import annotations

import numpy as np
import pytest

from miner.classify import train as T
from miner.classify.dataset import external_examples


@pytest.fixture(scope="module")
def examples():
    return external_examples()  # data/labels/external-*.jsonl: six authors


def test_the_inner_choice_is_kept_and_the_operating_threshold_applied(examples):
    moved = T.fit(examples, None, c_grid=(0.003,))
    chosen = T.fit(examples, None, c_grid=(0.003,), operating=None)
    assert moved.threshold == T.OPERATING == 0.20
    # the inner choice still decides (and is recorded); only the applied threshold moves
    assert moved.data["trained_on"]["inner_threshold"] == chosen.threshold
    assert chosen.threshold in T.THRESHOLDS and "inner_threshold" not in chosen.data["trained_on"]
    assert np.allclose(moved.coef, chosen.coef) and moved.temperature == chosen.temperature
    # a threshold given by the caller is not moved (the th-0.2 variants, the learned-6 recipe)
    fixed = T.fit(examples, None, C=0.003, threshold=0.3)
    assert fixed.threshold == 0.3 and "inner_threshold" not in fixed.data["trained_on"]


def test_inner_folds_deal_sorted_authors_in_turn():
    authors = np.asarray(["c", "a", "b", "a", "d", "c"])
    assert T.inner_groups(authors, None).tolist() == authors.tolist()  # one fold per author
    assert T.inner_groups(authors, 4).tolist() == authors.tolist()  # as many folds as authors: the same
    # a -> 0, b -> 1, c -> 0, d -> 1
    assert T.inner_groups(authors, 2).tolist() == [0, 0, 1, 0, 1, 0]


def test_fit_with_inner_folds_uses_them(examples, monkeypatch):
    seen = []
    real = T._inner_logits

    def spy(X, y, groups, *a, **k):
        seen.append(len(set(groups.tolist())))
        return real(X, y, groups, *a, **k)

    monkeypatch.setattr(T, "_inner_logits", spy)
    T.fit(examples, None, c_grid=(0.003,), inner_folds=3)
    assert seen and set(seen) == {3}
    seen.clear()
    T.fit(examples, None, c_grid=(0.003,))  # the shipped default: one fold per author
    assert set(seen) == {len({examples[i].author for i in T.modelled(examples)})} and 3 not in seen


def test_a_fine_tuned_model_applies_the_inner_threshold(examples):
    """RULE10b: the operating threshold (0.20) is for people the model never saw; a model fine-tuned on a person's own
    labels (vault mine --fit) has seen them and applies the threshold its base's inner cross-validation chose."""
    base = T.fit(examples, None, c_grid=(0.003,))
    own = [e for e in examples if e.author == examples[0].author][:15]
    tuned = T.finetune(base, own)
    assert base.threshold == T.OPERATING and tuned.threshold == base.data["trained_on"]["inner_threshold"]
    assert "+own-" in tuned.version and tuned.temperature == base.temperature
    chosen = T.fit(examples, None, c_grid=(0.003,), operating=None)  # no inner_threshold recorded: its own
    assert T.finetune(chosen, own).threshold == chosen.threshold


def test_a_few_own_labels_without_a_correction_do_not_reset_the_correction_class(examples):
    """Seventeenth session: the fine-tune pulls the class intercepts towards the base's (train.FINETUNE_INTERCEPT_PULL,
    about ten pseudo-turns). Almost free (`fit`'s 1e-3), ten labels without a correction moved the correction
    intercept down by about 4 (M-Claude's F1 at k = 10 on learned-9: 0.57 -> 0.11). The labels still move it down."""
    base = T.fit(examples, None, c_grid=(0.003,))
    ci = T.CLASSES.index(T.REATTEMPT_WITH_FEEDBACK)
    own = [examples[i] for i in T.modelled(examples) if examples[i].author == "Aider-AI/aider"
           and T.TARGET.get(examples[i].label, examples[i].label) != T.REATTEMPT_WITH_FEEDBACK][:10]
    assert len(own) == 10
    tuned = T.finetune(base, own)
    assert 0.0 < base.intercept[ci] - tuned.intercept[ci] < 1.0
    assert np.abs(tuned.intercept - base.intercept).max() < 1.0


def test_plain_tail_columns_are_standardised_as_plain_features():
    # RULE20's language-model columns sit after the embeddings: standardised at their own spread, not scaled down
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 7)) * np.asarray([1, 2, 3, 4, 5, 6, 7])
    _, before = T._standardise(X, 2)
    _, scale = T._standardise(X, 2, tail=T.Tail(2))
    assert np.allclose(before[:5], scale[:5])  # plain and embedding columns as before
    assert np.allclose(before[5:], scale[5:] / T.EMBED_WEIGHT)
    assert np.allclose(scale[5:], X[:, 5:].std(axis=0))
    _, weighted = T._standardise(X, 2, tail=T.Tail(2, weight=5.0))  # RULE21's weaker pull: 5x the spread
    assert np.allclose(weighted[5:], scale[5:] / 5.0) and np.allclose(weighted[:5], scale[:5])


def test_a_blend_is_one_linear_model_of_the_two_fits_log_probabilities(examples):
    """train.blend (RULE26's AB): the blended model's probabilities are the renormalised product of its parts'
    tempered ones, weight w and 1 - w, on every turn; with the embeddings left out (at the first part's mean) too."""
    from miner.classify.learned import feature_matrix

    rng = np.random.default_rng(1)
    E = rng.normal(size=(len(examples), 6))
    half = sorted({e.author for e in examples})[:3]
    a = T.fit(examples, E, c_grid=(0.003,))
    b = T.fit([e for e in examples if e.author in half], E[[e.author in half for e in examples]], c_grid=(0.03,))
    from miner.classify.learned import Model

    a, b = Model({**a.data, "temperature": 0.8}), Model({**b.data, "temperature": 1.3})  # each part's own, exercised
    assert not np.allclose(a.mean, b.mean) and not np.allclose(a.scale, b.scale)
    X = np.hstack([feature_matrix([e.turn for e in examples]), E])
    m = T.blend(a, b, 0.3, 0.25)
    geo = np.exp(0.3 * np.log(a.proba(X)) + 0.7 * np.log(b.proba(X)))
    assert np.allclose(m.proba(X), geo / geo.sum(axis=1, keepdims=True), atol=1e-5)
    plain = X[:, :len(a.features)]
    X_at_a = X.copy()
    X_at_a[:, len(a.features):] = a.mean[len(a.features):]  # what "no embedding columns" means: a's training mean
    geo = np.exp(0.3 * np.log(a.proba(X_at_a)) + 0.7 * np.log(b.proba(X_at_a)))
    assert np.allclose(m.proba(plain), geo / geo.sum(axis=1, keepdims=True), atol=1e-5)
    assert m.threshold == 0.25 and m.data["C"] == a.data["C"] and m.temperature == 1.0
    assert m.data["trained_on"]["blend"]["weight"] == 0.3
    assert T.fitted_threshold(m) == T.fitted_threshold(b)
    with pytest.raises(ValueError, match="different columns"):
        T.blend(a, T.fit(examples, None, c_grid=(0.003,)), 0.5, 0.25)
