"""bench/miner_cv.py --union: a named group of authors read from a file (--group NAME=FILE), and --reuse extended to
authors the earlier run did not score (only their counts added, the rest checked equal). No fit is run."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import miner_cv as CV  # noqa: E402

CORR, OTHER = "reattempt_with_feedback", "new_request"


def test_a_group_file_lists_authors_by_their_first_word(tmp_path):
    f = tmp_path / "fresh.txt"
    f.write_text("# finished authors\nowner/a  label-cc 00:40\n\nowner/b # a note\n  owner/gone\nowner/a\n")
    name, members, missing = CV.read_group(f"fresh={f}", {"owner/a", "owner/b", "owner/c"})
    assert (name, members, missing) == ("fresh", {"owner/a", "owner/b"}, {"owner/gone"})
    with pytest.raises(SystemExit):
        CV.read_group(str(f), {"owner/a"})


def _examples(spec):
    return [SimpleNamespace(author=a, label=g) for a, g in spec]


def _labels(said):
    return [SimpleNamespace(label=s) for s in said]


def test_reuse_adds_only_the_new_authors_and_checks_the_others(monkeypatch):
    ex = _examples([("old", CORR), ("old", OTHER), ("new", CORR), ("new", CORR), ("train", CORR)])
    monkeypatch.setitem(CV._U, "examples", ex)
    # the fit on all training authors scores every author outside training: old (again) and new
    fold = ([0, 1, 2, 3], [_labels([CORR, CORR, CORR, OTHER]), _labels([CORR, OTHER, OTHER, OTHER])], 0.2, [None] * 4)
    calls = []
    monkeypatch.setattr(CV, "_union_fold", lambda *a: calls.append(a) or fold)
    r = {"counts": {"train": [1, 0, 0], "old": [1, 1, 0]}, "fold_thresholds": [0.2],
         "sweep": {0.3: {"counts": {"train": [0, 0, 1], "old": [1, 0, 0]}}}}
    CV.extend_reused(r, {"train"}, {"new"}, (0.3,), None, {})
    assert calls == [(None, {"train"}, (0.3,), None, {})]  # one fit: the one on all training authors
    assert r["counts"] == {"train": [1, 0, 0], "old": [1, 1, 0], "new": [1, 0, 1]}
    assert r["sweep"][0.3]["counts"] == {"train": [0, 0, 1], "old": [1, 0, 0], "new": [0, 0, 2]}

    r["counts"]["old"] = [0, 0, 1]  # an earlier run this fit does not reproduce
    del r["counts"]["new"]
    with pytest.raises(SystemExit):
        CV.extend_reused(r, {"train"}, {"new"}, (0.3,), None, {})
    with pytest.raises(SystemExit):  # a training author missing: its fold would be needed, not the extension
        CV.extend_reused(r, {"train"}, {"train", "new"}, (0.3,), None, {})



def test_reuse_writes_the_new_authors_predictions(monkeypatch, tmp_path):
    import json

    ex = [SimpleNamespace(author=a, label=g, file="f.jsonl", turn=SimpleNamespace(session_id="s", msg_id=f"m{i}",
                                                                                 position=i))
          for i, (a, g) in enumerate([("old", CORR), ("new", CORR), ("new", OTHER)])]
    monkeypatch.setitem(CV._U, "examples", ex)
    fold = ([0, 1, 2], [_labels([CORR, CORR, OTHER])], 0.2, [0.9, 0.8, None])
    monkeypatch.setattr(CV, "_union_fold", lambda *a: fold)
    r = {"counts": {"old": [1, 0, 0]}, "fold_thresholds": [], "sweep": {}}
    out = tmp_path / "pred.jsonl"
    out.write_text("stale\n")
    CV.extend_reused(r, {"train"}, {"new"}, (), None, {}, (str(out), "AB", True))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # only the new author's turns, the file started afresh (AB is the first recipe); a rule's turn has no probability
    assert [(r["recipe"], r["author"], r["msg_id"], r["p_correction"], r["prediction"]) for r in rows] == [
        ("AB", "new", "m1", 0.8, CORR), ("AB", "new", "m2", None, OTHER)]

def test_hold_out_group_leaves_every_recipe_without_its_members(capsys):
    recipes = {"A": ({"t1", "t2"}, None, {}), "B10": ({"t1", "t2", "l1", "j1"}, 10, {"x": 1})}
    got = CV.hold_out(recipes, {"judge": {"j1", "j2", "p1"}})
    assert got == {"A": ({"t1", "t2"}, None, {}), "B10": ({"t1", "t2", "l1"}, 10, {"x": 1})}
    assert recipes["B10"][0] == {"t1", "t2", "l1", "j1"}  # the recipes given are not changed
    assert "B10: 4 training authors, 1 of them in judge held out -> 3" in capsys.readouterr().out
    assert CV.hold_out(recipes, {}) == recipes


def test_curve_spec_reads_pool_test_and_ks():
    recipes = {"B10": ({"t1", "l1"}, 10, {})}
    groups = {"judge": {"j1", "j2", "l1"}, "all but judge": {"t1", "p1"}}
    assert CV.curve_spec("all but judge:judge:1,2", recipes, groups) == ({"t1", "p1"}, {"j1", "j2", "l1"}, (1, 2))
    # a pool member is never a test author
    assert CV.curve_spec("B10:judge:2", recipes, groups) == ({"t1", "l1"}, {"j1", "j2"}, (2,))
    for bad in ("B10:judge", "nope:judge:2", "B10:nope:2", "B10:judge:"):
        with pytest.raises(SystemExit):
            CV.curve_spec(bad, recipes, groups)


def test_outside_only_scores_the_authors_outside_training_by_one_fit(monkeypatch):
    ex = _examples([("train", CORR), ("out", CORR), ("out", OTHER)])
    monkeypatch.setitem(CV._U, "examples", ex)
    calls = []

    def fold(held, train, sweep, folds, fit_kw):
        calls.append(held)
        rows = [i for i, e in enumerate(ex) if (e.author == held if held else e.author not in train)]
        return rows, [_labels([CORR] * len(rows))], 0.25, [0.9] * len(rows)

    monkeypatch.setattr(CV, "_union_fold", fold)
    labels, _, chosen, probs = CV.union_labels({"train"}, (), 1, None, {}, outside_only=True)
    assert calls == [None] and chosen == [0.25]  # no leave-one-author-out fold
    assert labels[0] is None and probs[0] is None  # the training author's turn is not scored
    assert CV.author_counts(ex, labels) == {"out": [1, 1, 0]}
    labels, *_ = CV.union_labels({"train"}, (), 1, None, {})
    assert calls == [None, "train", None] and CV.author_counts(ex, labels) == {"train": [1, 0, 0], "out": [1, 1, 0]}
    # the F1 change is read on the authors both runs scored
    assert CV.f1_change({"out": [1, 1, 0]}, {"train": [1, 0, 0], "out": [1, 0, 0]})[0] == round(1.0 - 2 / 3, 3)


def test_the_everyone_recipes_train_on_the_pointers_people_too():
    recipes = CV.recipe_table({"a1"}, {"l1"}, {"p1"})
    assert recipes["U10"][0] == recipes["AU"][0] == {"a1", "l1", "p1"}
    (ta, fa, _), (tu, fu, _), weight = recipes["AU"][2]["blend"]
    assert (ta, tu, fu) == ({"a1"}, {"a1", "l1", "p1"}, CV.UNION_INNER_FOLDS)
    assert recipes["AU"][2]["threshold"] == recipes["AB"][2]["threshold"] and weight == recipes["AB"][2]["blend"][2]
    assert "p1" not in recipes["AB"][0]
