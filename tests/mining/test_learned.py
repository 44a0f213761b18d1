"""The learned classifier: each feature family on real labelled lines, the shipped model reproducible
from the training script, the backend in `vault mine`, and `vault mine --fit` on a person's own labels."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from support import CORPORA, EXAMPLES, needs_shared, run_cli

from miner.classify import features as F

pytestmark = needs_shared


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """Examples of the shared dev labels, by msg_id (the labelled files ingested into a fresh vault)."""
    from miner.classify.dataset import corpus_examples

    examples = corpus_examples(CORPORA, tmp_path_factory.mktemp("dev"))
    return {e.turn.msg_id: e for e in examples}


def feats(example) -> dict[str, float]:
    return dict(zip(F.NAMES, F.vector(example.turn), strict=True))


def test_cue_family_on_real_lines(dev):
    # "IES backend is not available. Please ensure it's running on port 8081." after "Does it show now?"
    failure = feats(dev["brain_explore-58cc808c#411"])
    assert failure["cue:broken_outcome"] == 1.0 and failure["cue:count"] > 0
    # A bare "1" picking the assistant's option: an approval, no correction cue.
    picked = feats(dev["c9b199cf-8fc6-4205-b1e6-9cf1ae9aee4a"])
    assert picked["cue:answer_approval"] == 1.0 and picked["cue:count"] == 0.0
    assert feats(dev["brain_explore-58cc808c#522"])["cue:praise_only"] == 1.0  # "that works"
    assert feats(dev["91d1e79a-8ceb-4c23-b5d7-9bc6055be0c4"])["cue:continue"] == 1.0  # "continue"


def test_shape_family_on_real_lines(dev):
    log = feats(dev["brain_explore-58cc808c#403"])  # a pasted container log line with an error level
    assert log["shape:code_or_log"] == 1.0 and log["cue:error_text"] == 1.0
    question = feats(dev["d8bf9a5d-3aa6-43bd-9913-a5925e054315"])  # "what about traceablity of DNS queries ...?"
    assert question["shape:question_mark"] == 1.0 and question["shape:question_start"] == 1.0
    assert feats(dev["c9b199cf-8fc6-4205-b1e6-9cf1ae9aee4a"])["shape:one_word"] == 1.0


def test_context_family_on_real_lines(dev):
    # The assistant asked "Does it show now?" / claimed it should appear; the person reports a failure.
    after_claim = feats(dev["brain_explore-58cc808c#388"])  # "it isnt showing up"
    assert after_claim["ctx:claimed_done"] == 1.0 and after_claim["ctx:claimed_x_failure"] == 1.0
    answer = feats(dev["c9b199cf-8fc6-4205-b1e6-9cf1ae9aee4a"])  # "1" after "Which one are you looking for?"
    assert answer["ctx:asked"] == 1.0 and answer["ctx:asked_x_approval"] == 1.0
    # "resume" right after an interruption, the assistant silent since: the first turn after an interrupt.
    resumed = feats(dev["2b9690d9-e29b-425d-9991-eb2ad31cd41d"])
    assert resumed["ctx:after_interrupt"] == 1.0 and resumed["ctx:after_interrupt_silent"] == 1.0
    assert feats(dev["8cd3c7eb-b5b4-422b-b4c9-2640e4e46397"])["ctx:tool_error"] == 1.0  # a tool failed just before
    # A verbatim re-send after an API error: similarity to the previous request.
    resent = feats(dev["bf2c2629-a7b9-4d2b-b557-6add354501c6"])
    assert resent["ctx:resend_sim"] >= 0.9 and resent["ctx:resend"] == 1.0


def test_the_fast_claim_and_question_finders_equal_their_patterns(dev):
    """`claimed_done_lowered` / `asked_user_lowered` (leading \\b checked by hand) find what the defining regexes find,
    on every answer tail `ctx:claimed_done` / `ctx:asked` read in the dev labels and on made-up edge cases."""
    from miner.classify import cues as C

    answers = [e.turn.prev_assistant for e in dev.values() if e.turn.prev_assistant]
    tails = [a[-F.TAIL_CLAIM:].lower() for a in answers] + [a[-F.TAIL_ASK:].rstrip().lower() for a in answers]
    tails += ["it is fixed", "this fixed it", "thisis fixed", "✅ done", "a✅", "✅", "x ✅", "redeployed", "undeployed",
              "should i?", "ok?**", "ok? **", "ok?**x", "run this?\n", "do you want", "xdo you want", "1 want me to", ""]
    claimed = [C.CLAIMED_DONE_LOWERED.search(t) is not None for t in tails]
    asked = [C.ASKED_USER_LOWERED.search(t) is not None for t in tails]
    assert [C.claimed_done_lowered(t) for t in tails] == claimed and 0 < sum(claimed) < len(tails)
    assert [C.asked_user_lowered(t) for t in tails] == asked and 0 < sum(asked) < len(tails)


def test_praise_and_nothing_else_is_decided_by_rule_before_the_regression(dev):
    """The dev labels' praise turns are all one author's: LOAO, no regression could learn them."""
    from miner.classify.base import POSITIVE_FEEDBACK
    from miner.classify.learned import LearnedClassifier, rules

    praise = [dev[m] for m in ("brain_explore-58cc808c#522", "brain_explore-58cc808c#557")]  # "that works"
    assert all(e.label == POSITIVE_FEEDBACK for e in praise)
    labels = LearnedClassifier(embed=False).label([e.turn for e in praise])
    assert [lab.label for lab in labels] == [POSITIVE_FEEDBACK] * 2
    assert labels[0].reasons == ["rule: praise and nothing else"]
    # praise then a request is not praise only: "Thanks! Please update CLAUDE.md for current changes"
    thanks = dev["2e38973c-cb21-4d4d-be4f-b93dd59145bd"]
    assert thanks.label == "new_request" and rules(thanks.turn) is None
    assert all(rules(e.turn) is None or e.label == POSITIVE_FEEDBACK
               for e in dev.values() if e.label != "interrupt" and e.turn.position > 0)


def test_the_prior_holds_the_heuristics_rules_for_praise_and_re_sends():
    from miner.classify.base import POSITIVE_FEEDBACK, REATTEMPT_WITH_FEEDBACK, REATTEMPT_WITHOUT_FEEDBACK
    from miner.classify.train import CLASSES, RULE_WEIGHT, prior_weights

    B0 = prior_weights(F.NAMES)
    row = lambda c: dict(zip(F.NAMES, B0[CLASSES.index(c)], strict=True))  # noqa: E731
    assert row(REATTEMPT_WITHOUT_FEEDBACK)["ctx:resend"] == RULE_WEIGHT > 0
    assert row(REATTEMPT_WITHOUT_FEEDBACK)["cue:continue"] == RULE_WEIGHT
    assert row(POSITIVE_FEEDBACK)["cue:praise_only"] == RULE_WEIGHT
    assert row(REATTEMPT_WITH_FEEDBACK)["ctx:claimed_x_failure"] > 0 and row(REATTEMPT_WITH_FEEDBACK)["ctx:resend"] == 0
    assert not B0[CLASSES.index("new_request")].any()  # the reference class


def test_embedding_family_is_cached_and_deduplicated(dev, tmp_path):
    from miner.classify.vectors import DIM, embed, turn_texts
    from vault.store import open_vault

    turns = [dev[m].turn for m in ("brain_explore-58cc808c#522", "brain_explore-58cc808c#557",
                                   "brain_explore-58cc808c#388")]
    assert turns[0].text == turns[1].text == "that works"
    text, pair = turn_texts(turns[2])
    assert text == "it isnt showing up" and pair.startswith(text) and "in reply to:" in pair
    con = open_vault(tmp_path / "v.duckdb")
    E, first = embed(con, turns)
    assert E.shape == (3, 2 * DIM)
    assert first["embedded"] == first["texts"] < 6  # "that works" twice is one text
    assert np.allclose(E[0, :DIM], E[1, :DIM]) and abs(np.linalg.norm(E[2, :DIM]) - 1) < 1e-4
    E2, again = embed(con, turns)
    assert again["embedded"] == 0 and np.allclose(E, E2, atol=1e-6)
    con.close()


def test_the_shipped_model_is_reproducible_from_the_training_script(dev, tmp_path):
    """Same data, same seed: the script's model labels every training turn as the shipped one does."""
    from miner.classify.learned import shipped_model
    from miner.classify.train import SEED, differences, shipped_fit

    shipped = shipped_model()
    again, examples, E = shipped_fit(CORPORA, tmp_path, shipped)  # the label files it names
    assert again.calibration == shipped.calibration  # the confidence map too (slope, anchor, what it was fitted on)
    assert shipped.data["trained_on"]["seed"] == SEED
    assert shipped.data["trained_on"]["labels"] == again.data["trained_on"]["labels"]
    assert shipped.data["trained_on"]["label_files"] == again.data["trained_on"]["label_files"]
    diff = differences(shipped, again, examples, E)
    assert diff["same"], diff


def test_mine_uses_the_learned_backend_and_records_the_model_version(ex_db):
    from miner.classify.learned import shipped_model
    from vault.store import open_vault

    code, out, _ = run_cli("mine", "--json", db=ex_db)
    rep = json.loads(out)
    assert code == 0 and rep["backend"] == "learned" and rep["version"] == shipped_model().version
    assert rep["embed_seconds"] >= 0 and rep["classify_seconds"] >= 0
    con = open_vault(ex_db, read_only=True)
    rows = con.execute("SELECT DISTINCT backend, version FROM labels").fetchall()
    embedded = con.execute("SELECT count(*) FROM miner_vectors").fetchone()[0]
    con.close()
    assert rows == [("learned", shipped_model().version)] and embedded > 0


def test_mine_fit_learns_from_the_persons_own_labels(tmp_path, mined_corpus_vault):
    """Labels given to `vault eval` and a relabel in review become training data; the vault keeps its model."""
    from miner.classify.learned import META_KEY, shipped_model
    from vault.store import get_meta, open_vault

    db = tmp_path / "v.duckdb"
    shutil.copy(mined_corpus_vault, db)  # mined by the shipped model
    assert run_cli("mine", db=db)[0] == 0
    code, out, _ = run_cli("eval", str(CORPORA / "labels-dev.jsonl"), "--json", db=db)
    assert code == 0 and json.loads(out)["kept_for_fit"] > 900
    con = open_vault(db)
    con.execute("INSERT INTO reviews (target, target_id, decision, value) VALUES ('turn', "
                "'brain_explore-58cc808c#522', 'relabel', 'positive_feedback')")
    con.close()
    code, out, _ = run_cli("mine", "--fit", "--json", db=db)
    rep = json.loads(out)
    assert code == 0 and rep["fit"]["examples"] > 100 and "+own-" in rep["fit"]["version"]
    assert "on_new_people" not in rep  # the shipped model's figure says nothing of a model fitted to this person
    con = open_vault(db, read_only=True)
    stored = json.loads(get_meta(con, META_KEY))
    versions = {v for (v,) in con.execute("SELECT DISTINCT version FROM labels WHERE backend = 'learned'").fetchall()}
    con.close()
    assert stored["version"] == rep["fit"]["version"] and versions == {stored["version"]}
    assert stored["coef"] != shipped_model().data["coef"]
    # a model fitted on the person applies the shipped fit's inner threshold, not the one set for strangers (RULE10b)
    assert stored["threshold"] == shipped_model().data["trained_on"]["inner_threshold"] != shipped_model().threshold


def test_mine_fit_without_labels_says_what_to_do(ex_db):
    code, out, err = run_cli("mine", "--fit", db=ex_db)
    assert code != 0 and "no labels of yours" in (out + err)


def test_eval_reads_queue_line_ids_of_the_wild_labels(tmp_path):
    from vault.ingest import ingest
    from vault.store import open_vault

    db = tmp_path / "v.duckdb"
    con = open_vault(db)
    ingest(con, [CORPORA / "wild" / "claude-code" / "session-share"])
    con.close()
    run_cli("mine", "--no-embed", db=db)
    labels = tmp_path / "labels.jsonl"
    rows = [json.loads(line) for line in (CORPORA / "labels-wild-dev.jsonl").read_text().splitlines()
            if "session-share" in line]
    labels.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, _ = run_cli("eval", str(labels), "--json", "--no-keep", db=db)
    rep = json.loads(out)
    assert code == 0 and rep["missing_from_vault"] == 0 and rep["messages"] == len(rows)
    assert any(r["msg_id"].startswith("queue:") for r in rows)
    assert rep["per_label"]["not_human"]["recall"] == 1.0


def test_without_embeddings_the_model_reads_only_the_plain_columns(dev):
    """`--no-embed`: the embedding columns left out give the same probabilities as those columns at their
    training mean (standardised to 0), and the vectorised decision is the threshold rule row by row."""
    from miner.classify.base import REATTEMPT_WITH_FEEDBACK
    from miner.classify.after import AWAITING
    from miner.classify.learned import LearnedClassifier, feature_matrix, shipped_model

    model = shipped_model()
    turns = [e.turn for e in list(dev.values())[:80]]
    X = feature_matrix(turns)
    at_mean = np.hstack([X, np.tile(model.mean[len(model.features):], (len(X), 1))])
    assert np.allclose(model.proba(X), model.proba(at_mean), atol=1e-12)
    P = model.proba(X)
    ci = model.classes.index(REATTEMPT_WITH_FEEDBACK)
    for p, (label, q) in zip(P, model.decide(P), strict=True):
        best = ci if p[ci] >= model.threshold else max((i for i in range(len(p)) if i != ci), key=lambda i: p[i])
        assert label == model.classes[best] and q == model.confident(p[None, :], np.asarray([best]))[0]
    labels = LearnedClassifier(embed=False).predict(turns, X)
    fired = [[n for n, v in zip(F.NAMES, x, strict=True) if v == 1.0 and not n.startswith("shape:")] for x in X]
    # a turn whose next answer is not known yet is marked, to be labelled again once it arrives (miner.turns)
    fired = [f + ([AWAITING] if t.next_assistant is None else []) for f, t in zip(fired, turns, strict=True)]
    assert [lab.reasons for lab in labels] == fired


def test_variants_mask_families_and_trees_fit_deterministically(dev):
    """bench/miner_cv.py --variant: an ablation zeroes exactly its family's columns; the boosted-trees
    variant chooses its threshold inside the training authors and refits to the same labels."""
    from miner.classify.learned import feature_matrix
    from miner.classify.train import THRESHOLDS, predict
    from miner.classify.variants import fit_trees, masked

    examples = sorted(dev.values(), key=lambda e: e.turn.msg_id)
    authors = sorted({e.author for e in examples})[:3]
    examples = [e for e in examples if e.author in authors]
    X = feature_matrix([e.turn for e in examples])
    shape = np.asarray([n.startswith("shape:") for n in F.NAMES])
    Xm = masked(("shape",))(X)
    assert not Xm[:, shape].any() and np.array_equal(Xm[:, ~shape], X[:, ~shape])
    a, b = fit_trees(examples, X=X), fit_trees(examples, X=X)
    assert a.threshold in THRESHOLDS
    assert [lab.label for lab in predict(a, examples, None, X)] == [lab.label for lab in predict(b, examples, None, X)]


def test_the_confidence_map_changes_no_label_and_keeps_the_gate(dev):
    """learned-8: the labels are learned-7's (decided on the correction probability before the map); a correction's
    confidence is the anchored Platt map of its probability, another label's is rescaled to what the map leaves; the
    anchor is the correction gate's, and the gate (confidence >= 0.7) selects the turns it selected without the map."""
    from collections import Counter

    from miner.classify.base import REATTEMPT_WITH_FEEDBACK
    from miner.classify.learned import Model, calibrate, feature_matrix, shipped_model
    from miner.classify.train import ANCHOR, finetune, modelled
    from miner.filters import GATE_CONFIDENCE

    model = shipped_model()
    cal = model.calibration
    assert cal is not None and cal["anchor"] == ANCHOR == GATE_CONFIDENCE and 0 < cal["slope"]
    raw = Model({k: v for k, v in model.data.items() if k != "calibration"})  # the same fit without the map
    examples = list(dev.values())
    keep = modelled(examples)
    X = feature_matrix([examples[i].turn for i in keep])
    rng = np.random.default_rng(0)
    P = np.vstack([model.proba(X), rng.dirichlet(np.ones(len(model.classes)), 400)])  # real rows and every region
    P[-1] = [0.2, 0.6995, 0.05, 0.0505]  # a correction on the gate's edge, either side of it to 3 decimals
    P[-2] = [0.2, 0.6994, 0.05, 0.0506]
    a, b = model.decide(P), raw.decide(P)
    assert [x[0] for x in a] == [x[0] for x in b]  # no label changes
    assert Counter(x[0] for x in a) == Counter(x[0] for x in b)
    ci = model.classes.index(REATTEMPT_WITH_FEEDBACK)
    for p, (label, q), (_, r) in zip(P, a, b, strict=True):
        mapped = float(calibrate(np.asarray([p[ci]]), cal["slope"], cal["anchor"])[0])
        if label == REATTEMPT_WITH_FEEDBACK:
            assert abs(q - mapped) <= 0.0011  # to 3 decimals (0.001 more only at the gate's edge)
            assert (q >= GATE_CONFIDENCE) == (round(r, 3) >= GATE_CONFIDENCE)  # the gate's selection
        else:
            assert abs(q - r * (1 - mapped) / (1 - p[ci])) <= 0.0006
    # monotone in the correction probability
    grid = np.linspace(0.01, 0.99, 99)
    assert np.all(np.diff(calibrate(grid, cal["slope"], cal["anchor"])) > 0)
    assert finetune(model, examples[:0]).calibration == cal  # no own labels: the model itself
    assert "calibration" not in finetune(model, examples[:40], X=feature_matrix([e.turn for e in examples[:40]]),
                                         E=np.zeros((40, 768))).data
