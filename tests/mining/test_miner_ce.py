"""bench/miner_ce.py's fold and combination logic (no model is loaded): the authors dealt into folds, each fold's Platt
map fitted on the other folds only, the combination (w 0 is AB, w 1 the cross-encoder alone), rule-decided turns keep
AB's label, and the grid's choice."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import miner_ce as CE  # noqa: E402


def test_authors_are_sorted_and_dealt_round_robin():
    folds = CE.deal_folds(["c", "a", "b", "a", "e", "d", "f"], 3)
    assert folds == {"a": 0, "b": 1, "c": 2, "d": 0, "e": 1, "f": 2}
    assert CE.deal_folds(["x"], 5) == {"x": 0}


def test_a_folds_platt_map_never_sees_the_folds_own_logits():
    rng = np.random.default_rng(0)
    z = rng.normal(size=200)
    y = (z + rng.normal(size=200) > 0).astype(int)
    fold = np.arange(200) % 4
    maps, c = CE.oof_platt(z, y, fold)
    z2 = z.copy()
    z2[fold == 1] *= -5.0  # fold 1's logits changed: fold 1's own map stays, the others move
    maps2, c2 = CE.oof_platt(z2, y, fold)
    assert maps2[1] == pytest.approx(maps[1])
    assert maps2[0] != pytest.approx(maps[0])
    a, b = maps[2]
    assert c[fold == 2] == pytest.approx(a * z[fold == 2] + b)


def test_the_combination_at_its_ends():
    p = np.asarray([0.1, 0.25, 0.9])
    c = np.asarray([3.0, -2.0, 0.0])
    assert CE.combine(p, c, 0.0) == pytest.approx(p, abs=1e-9)
    assert CE.combine(p, c, 1.0) == pytest.approx(1 / (1 + np.exp(-c)))
    mid = CE.combine(p, c, 0.5)
    assert mid[0] == pytest.approx(1 / (1 + np.exp(-(0.5 * np.log(0.1 / 0.9) + 1.5))))


def test_rule_decided_turns_keep_abs_label_and_w0_at_025_is_ab():
    p_ab = [0.3, None, 0.2, None, 0.25]
    c = [-1.0, np.nan, 5.0, np.nan, -5.0]
    ab_said = [True, True, False, False, True]
    assert CE.decide(p_ab, c, 0.0, CE.AB_THRESHOLD, ab_said).tolist() == ab_said
    assert CE.decide(p_ab, c, 1.0, 0.5, ab_said).tolist() == [False, True, True, False, False]
    with pytest.raises(ValueError):  # a modelled turn must have its logit
        CE.decide(p_ab, [np.nan] * 5, 0.5, 0.5, ab_said)


def test_the_grid_prefers_ab_when_the_cross_encoder_adds_nothing():
    rng = np.random.default_rng(1)
    gold = rng.random(300) < 0.3
    p_ab = np.where(gold, 0.6, 0.1).tolist()  # AB separates perfectly at 0.25
    c = rng.normal(size=300)  # noise
    w, t, f = CE.choose(p_ab, c, gold, np.asarray(p_ab) >= 0.25)
    assert (w, f) == (0.0, 1.0)
    assert t == CE.AB_THRESHOLD


def test_a_guarded_group_may_not_lose_more_than_the_allowed_drop():
    # turns 0-3, a guarded group: AB right, c wrong; turns 4-9: the same readings, the other way round
    gold = np.asarray([1, 1, 0, 0, 0, 0, 0, 1, 1, 1], dtype=bool)
    p_ab = [0.6, 0.6, 0.1, 0.1, 0.6, 0.6, 0.6, 0.1, 0.1, 0.1]
    c = np.asarray([-9.0, -9.0, 9.0, 9.0, -9.0, -9.0, -9.0, 9.0, 9.0, 9.0])
    ab_said = np.asarray(p_ab) >= 0.25
    free = CE.choose(p_ab, c, gold, ab_said)
    guarded = CE.choose(p_ab, c, gold, ab_said, guards=[np.arange(4)])
    assert free[2] > guarded[2]
    w, t, _ = guarded
    said = CE.decide(p_ab, c, w, t, ab_said)
    assert CE.pooled_f1(gold[:4], said[:4]) >= CE.pooled_f1(gold[:4], ab_said[:4]) - CE.GUARD_DROP


def test_train_groups_deal_only_the_training_authors_and_score_the_rest_by_one_more_fit():
    authors = ["p2", "a", "b", "p1", "a", "c", "d", "e", "p2"]
    fold, trainable = CE.training_folds(authors, 2, {"a", "b", "c", "d", "e"})
    assert trainable.tolist() == [False, True, True, False, True, True, True, True, False]
    assert fold.tolist() == [2, 0, 1, 2, 0, 0, 1, 0, 2]  # a b c d e dealt among themselves; the others: fold k
    plain, every = CE.training_folds(authors, 2)  # no --train-groups: every author dealt, every turn trainable
    assert every.all() and plain.tolist() == [CE.deal_folds(authors, 2)[a] for a in authors]


def test_train_groups_name_a_union_of_groups_and_change_the_configurations_tag():
    groups = {"first corpora": {"a"}, "wild-dev": {"b"}, "pointers": {"p"}}
    assert CE.train_authors(groups, None) is None
    assert CE.train_authors(groups, "first corpora, wild-dev") == {"a", "b"}
    with pytest.raises(SystemExit):
        CE.train_authors(groups, "first corpora,nope")
    from types import SimpleNamespace

    c = SimpleNamespace(layers=2, epochs=2, lr=5e-5, head_lr=1e-3, max_length=160, folds=5, seed=0, train_groups=None)
    base = CE.config_tag(c)
    assert base == "L2-e2-lr5e-05-h0.001-ml160-k5-s0"  # unchanged without the option (the caches keep their names)
    c.train_groups = "wild-dev,first corpora"
    one = CE.config_tag(c)
    c.train_groups = "first corpora, wild-dev"
    assert CE.config_tag(c) == one != base and one.startswith(base + "-tg")


def test_no_fit_trains_on_an_author_outside_the_training_groups_or_on_the_author_it_scores(monkeypatch):
    authors = np.asarray(["a", "a", "b", "c", "d", "p", "p", "q"])
    fold, trainable = CE.training_folds(authors.tolist(), 2, {"a", "b", "c", "d"})
    seen = {}

    def fake_fit(rows):
        return set(authors[rows].tolist())

    monkeypatch.setattr(CE, "_fit", fake_fit)
    monkeypatch.setattr(CE, "head_logits", lambda head, H, M: np.zeros(len(H)))
    monkeypatch.setitem(CE._S, "tfold", fold)
    monkeypatch.setitem(CE._S, "train", trainable)
    monkeypatch.setitem(CE._S, "H", np.zeros((len(authors), 1)))
    monkeypatch.setitem(CE._S, "M", np.zeros((len(authors), 1)))
    for k in range(3):  # 2 folds among the training authors, one more fit for everyone else
        monkeypatch.setattr(CE, "_fit", lambda rows, k=k: seen.setdefault(k, fake_fit(rows)))
        _, z, _ = CE._fold_job(k)
        assert len(z) == int((fold == k).sum())
    for k, trained_on in seen.items():
        assert not trained_on & {"p", "q"}
        assert not trained_on & set(authors[fold == k].tolist())
    assert seen[2] == {"a", "b", "c", "d"}
