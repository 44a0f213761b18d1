"""The eighteenth session's variants (bench/miner_cv.py recipes AB-appr, AB-neg, AB-plain): the approval cue kept only on
a turn of at most six words (variants.approval_scoped) and a negation with no correction cue after an answer as a column
(variants.TAIL_FEATURES "neg-nocue"). Both leave the shipped features (features.vector) as they are."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from miner.classify import features as F
from miner.classify.base import Turn
from miner.classify.variants import APPROVAL_WORDS, TAIL_FEATURES, X_TRANSFORMS, approval_scoped, tail_columns

APPROVAL = F.NAMES.index("cue:answer_approval")
ASKED_X_APPROVAL = F.NAMES.index("ctx:asked_x_approval")


def _turn(text: str, answer: str | None = "Done: the button now saves the form. Want me to add tests?") -> Turn:
    return Turn(msg_id="m", session_id="s", kind="human_prompt", text=text, position=1, prev_assistant=answer)


def _rows(texts: list[str], answer: str | None = "Done: the button now saves the form. Want me to add tests?"):
    turns = [_turn(t, answer) for t in texts]
    return turns, np.asarray([F.vector(t) for t in turns])


def test_the_approval_cue_is_kept_only_on_a_turn_that_is_an_approval():
    texts = ["ok", "yes, go ahead", "option 2",  # approvals: kept
             "ok, when i hold the key down the screen freezes on the start page",  # a report opening on "ok"
             "yes but my name is Ann and my github name is ann, adjust accordingly",
             "A couple of feedback: handleList should be internal only, add a handler per channel",  # the article "a"
             "1. can we actually use go 1.26 and keep the docker set-up deployable"]  # a numbered list
    turns, X = _rows(texts)
    assert (X[:, APPROVAL] == 1.0).all()  # the shipped cue fires on every one of them
    assert (X[:, ASKED_X_APPROVAL] == 1.0).all()  # the answer asked a question
    Y = approval_scoped(turns, X)
    assert Y[:, APPROVAL].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert Y[:, ASKED_X_APPROVAL].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    other = [i for i in range(X.shape[1]) if i not in (APPROVAL, ASKED_X_APPROVAL)]
    assert (Y[:, other] == X[:, other]).all()  # nothing else moves
    assert (X[:, APPROVAL] == 1.0).all()  # a copy: the rows given are not changed
    assert len("yes, go ahead and do it now please".split()) > APPROVAL_WORDS - 1
    assert X_TRANSFORMS["appr-scope"] is approval_scoped


def test_a_negation_counts_only_with_no_cue_and_after_an_answer():
    texts = ["it didn't save anything", "the export has no header row", "that's wrong, it doesn't work",
             "please add a footer"]
    turns, X = _rows(texts)
    col = tail_columns("neg-nocue", turns, X)
    assert col.shape == (4, 1)
    assert col[:, 0].tolist() == [1.0, 1.0, 0.0, 0.0]  # the third has correction cues: their weights decide it
    turns, X = _rows(texts, answer=None)
    assert tail_columns("neg-nocue", turns, X)[:, 0].tolist() == [0.0, 0.0, 0.0, 0.0]  # no answer before
    assert TAIL_FEATURES["neg-nocue"][1] == (0.8,)  # RULE23's prior for this column, fixed in the fifteenth session


def test_the_recipes_change_both_parts_of_the_blend_alike():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import miner_cv as CV

    recipes = CV.recipe_table({"a1", "a2"}, {"b1"})
    ab = recipes["AB"]
    for name, extra in (("AB-appr", {"xform": "appr-scope"}), ("AB-neg", {"tail": "neg-nocue"}),
                        ("AB-plain", {"xform": "appr-scope", "tail": "neg-nocue"})):
        train, folds, kw = recipes[name]
        assert (train, folds, kw["threshold"]) == (ab[0], ab[1], ab[2]["threshold"])
        *parts, weight = kw["blend"]
        *ab_parts, ab_weight = ab[2]["blend"]
        assert weight == ab_weight
        for (t, f, k), (t0, f0, k0) in zip(parts, ab_parts, strict=True):
            assert (t, f, k) == (t0, f0, {**k0, **extra})
