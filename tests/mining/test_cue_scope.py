"""The variant cc-scope's columns (features.cue_scope: where the correction evidence sits relative to the cue lists) and
how a variant's own columns join a fit with their prior (variants.TAIL_FEATURES, train.Tail); on the repository's
own licensed label files (no shared corpora needed)."""

from __future__ import annotations

import numpy as np
import pytest

from miner.classify import cues as C
from miner.classify import features as F
from miner.classify import train as T
from miner.classify.base import Turn
from miner.classify.dataset import EXTERNAL_DIR, external_examples
from miner.classify.learned import feature_matrix
from miner.classify.variants import TAIL_FEATURES, tail_columns


@pytest.fixture(scope="module")
def licensed():
    ex = external_examples() + external_examples(EXTERNAL_DIR / "not-in-model")
    return ex, feature_matrix([e.turn for e in ex])


def _turn(text: str, answer: str | None = "Done: the button now saves the form.") -> Turn:
    return Turn(msg_id="m", session_id="s", kind="human_prompt", text=text, position=1, prev_assistant=answer)


def _columns(text: str, answer: str | None = "Done: the button now saves the form.") -> list[float]:
    t = _turn(text, answer)
    return F.cue_scope(t, np.asarray(F.vector(t)))


def test_a_cue_in_the_head_or_deep_in_the_body_and_a_bare_negation():
    assert _columns("that's wrong, the button still does nothing") == [0.0, 0.0]  # a cue at the start
    brief = "Next I would like a settings page with a dark mode toggle and a profile form. " * 3
    assert len(brief) > F.SCOPE_WINDOW
    deep = brief + "It should not break the existing layout, that's wrong otherwise."
    assert C.fired(C.CORRECTION_CUES, deep) and not C.fired(C.CORRECTION_CUES, brief)
    assert _columns(deep) == [1.0, 0.0]  # the only cue far from the head
    assert _columns("the login form doesn't submit anymore") == [0.0, 1.0]  # no cue, a negation, after an answer
    assert _columns("the login form doesn't submit anymore", answer=None) == [0.0, 0.0]  # no answer before
    assert _columns("please add a footer") == [0.0, 0.0]


def test_the_head_search_agrees_with_the_first_cue_of_the_whole_turn(licensed):
    # cue_scope searches only the first SCOPE_WINDOW characters of a turn with a cue: on every licensed labelled turn
    # its first column equals "the first correction cue of the whole (cut) text starts after SCOPE_HEAD"
    examples, X = licensed
    cols = tail_columns("cc-scope", [e.turn for e in examples], X)
    seen = {0: 0, 1: 0}
    for e, row in zip(examples, cols, strict=True):
        text = C.plain(e.turn.text.strip())
        if len(text) > F.CUE_CHARS:
            text = text[: F.CUE_CHARS - 500] + "\n" + text[-500:]
        lower = text.lower()
        starts = [m.start() for c, find in F._CORRECTION_FINDERS
                  if (m := find(lower if c.lowered else text)) is not None]
        assert row[0] == float(bool(starts) and min(starts) > F.SCOPE_HEAD)
        negated = F._NEGATION.search(lower) is not None
        assert row[1] == float(not starts and negated and bool(e.turn.prev_assistant))
        seen[int(row[0])] += 1
    assert seen[1] >= 5 and cols[:, 1].sum() >= 20  # both columns fire on real turns


def test_a_variant_prior_is_where_its_columns_start_and_stay_under_a_strong_pull(licensed):
    examples, X = licensed
    cols = tail_columns("cc-scope", [e.turn for e in examples], X)
    keep = T.modelled(examples)
    y = np.asarray([T.CLASSES.index(T.TARGET.get(examples[i].label, examples[i].label)) for i in keep])
    Xm = np.hstack([X[keep], cols[keep]])
    w = np.ones(len(y))
    ci = T.CLASSES.index("reattempt_with_feedback")
    zero = T._raw_fit(Xm, y, 1e-6, len(F.NAMES), w, tail=T.Tail(2))
    held = T._raw_fit(Xm, y, 1e-6, len(F.NAMES), w, tail=T.Tail(2, prior=TAIL_FEATURES["cc-scope"][1]))
    raw = lambda m: m["coef"][:, -2:] / m["scale"][-2:]  # noqa: E731  the weights in raw feature units
    assert np.allclose(raw(zero), 0.0, atol=1e-3)
    assert np.allclose(raw(held)[ci], TAIL_FEATURES["cc-scope"][1], atol=1e-3)
    assert np.allclose(np.delete(raw(held), ci, axis=0), 0.0, atol=1e-3)
    assert np.allclose(zero["coef"][:, :-2], held["coef"][:, :-2], atol=1e-3)  # the other columns as before
