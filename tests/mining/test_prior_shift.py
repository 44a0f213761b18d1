"""The per-person label shift (RULE13): EM of Saerens et al. (2002) on calibrated correction probabilities.

Probabilities are constructed from a known model: a turn's score s is N(+1, 1) for a correction and N(-1, 1)
otherwise, so the likelihood ratio is exp(2 s) and the calibrated posterior under the training prior pi0 is
pi0 e^{2s} / (pi0 e^{2s} + 1 - pi0). A person's true correction share is then known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from miner.classify.learned import PRIOR_BOUNDS, Model, prior_em, shift_proba, shipped_model

PI0 = 0.2


def posteriors(share: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < share
    s = np.where(y, rng.normal(1.0, 1.0, n), rng.normal(-1.0, 1.0, n))
    lr = np.exp(2 * s)
    return PI0 * lr / (PI0 * lr + 1 - PI0)


@pytest.mark.parametrize("share", [0.05, 0.2, 0.5, 0.8])
def test_a_known_prior_is_recovered_from_many_unlabelled_turns(share):
    p = posteriors(share, 20000, seed=1)
    assert prior_em(p, PI0, shrink=0) == pytest.approx(share, abs=0.02)
    # the first E-step alone (the mean posterior) is biased towards pi0 when the share differs: EM must iterate
    if abs(share - PI0) > 0.2:
        assert abs(p.mean() - share) > 0.05


def test_the_estimate_is_the_fixed_point_of_the_map_update():
    p = posteriors(0.6, 30, seed=2)
    k = 20.0
    pi = prior_em(p, PI0, shrink=k)
    q = p * pi / PI0 / (p * pi / PI0 + (1 - p) * (1 - pi) / (1 - PI0))
    assert pi == pytest.approx((q.sum() + k * PI0) / (len(p) + k), abs=1e-5)


def test_shrinkage_few_turns_move_the_prior_little():
    p = posteriors(0.6, 12, seed=3)
    free, k20, k_big = prior_em(p, PI0, 0), prior_em(p, PI0, 20), prior_em(p, PI0, 1e9)
    assert free > k20 > PI0 + 0.02  # pulled towards pi0, not all the way
    assert k_big == pytest.approx(PI0, abs=1e-6)
    # more turns of the same person: the same K moves it further
    assert prior_em(posteriors(0.6, 400, seed=3), PI0, 20) > k20 + 0.05
    assert prior_em(np.zeros(0), PI0, 20) == PI0  # a person with no turns: the training prior


def test_no_runaway_the_prior_stays_inside_its_bounds():
    lo, hi = PRIOR_BOUNDS
    assert prior_em(np.full(200, 0.999), PI0, 0) == pytest.approx(hi)
    assert prior_em(np.full(200, 1e-4), PI0, 0) == pytest.approx(lo)
    # the iteration cap: one step is the MAP update from pi0 (where q = p), nothing more
    p = posteriors(0.8, 100, seed=4)
    one = prior_em(p, PI0, 10, iterations=1)
    assert one == pytest.approx((p.sum() + 10 * PI0) / 110)
    assert prior_em(p, PI0, 10) > one


def test_shift_moves_the_correction_column_and_keeps_the_others_ratios():
    P = np.array([[0.5, 0.3, 0.1, 0.1], [0.1, 0.6, 0.2, 0.1]])
    assert np.allclose(shift_proba(P, 1, PI0, PI0), P)
    up = shift_proba(P, 1, 0.5, PI0)
    assert np.allclose(up.sum(axis=1), 1)
    odds = lambda x: x / (1 - x)  # noqa: E731
    assert np.allclose(odds(up[:, 1]) / odds(P[:, 1]), (0.5 / 0.5) / (PI0 / (1 - PI0)))
    assert np.allclose(up[:, 0] / up[:, 2], P[:, 0] / P[:, 2])
    down = shift_proba(P, 1, 0.05, PI0)
    assert (down[:, 1] < P[:, 1]).all() and (up[:, 1] > P[:, 1]).all()


def test_a_model_shifts_each_person_by_their_own_turns():
    data = dict(shipped_model().data)
    ci = data["classes"].index("reattempt_with_feedback")
    plain = Model(data)
    shifting = Model({**data, "prior_shift": {"pi0": PI0, "shrink": 0.0}})
    rare, often = posteriors(0.05, 400, seed=5), posteriors(0.7, 400, seed=6)
    P = np.zeros((800, 4))
    P[:, ci] = np.concatenate([rare, often])
    P[:, 0] = 1 - P[:, ci]
    groups = ["rare"] * 400 + ["often"] * 400
    assert plain.shifted(P, groups) is P
    S = shifting.shifted(P, groups)
    assert (S[:400, ci] < P[:400, ci]).all() and (S[400:, ci] > P[400:, ci]).all()
    # all rows taken as one person: one prior for all, between the two
    one = shifting.shifted(P)
    assert (one[:400, ci] > S[:400, ci]).all() and (one[400:, ci] < S[400:, ci]).all()
    # a prior given (the whole vault's) is applied as it is
    assert np.allclose(shifting.shifted(P, prior=PI0), P)
