"""`vault mine`, `vault turns`, `vault eval` end to end: on the examples, and on the shared real corpora."""

from __future__ import annotations

import json

import pytest
from support import CORPORA, EXAMPLES, run_cli

CONTRACT_LABELS = {"initial_request", "new_request", "reattempt_with_feedback", "reattempt_without_feedback",
                   "positive_feedback", "interrupt"}
DEV_LABELS = CORPORA / "labels-dev.jsonl"
FREE_ANSWER = "95b994d4-cb05-46ca-9267-9a615aed06fa"  # "main was clean; fix the issues", typed in "Other"


def turns(db, *args):
    code, out, _ = run_cli("turns", "--json", *args, db=db)
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_turns_follow_the_contract_and_cover_only_human_side_messages(ex_db):
    code, out, _ = run_cli("mine", "--json", db=ex_db)
    assert code == 0
    rep = json.loads(out)
    rows = turns(ex_db)
    assert rep["turns_labelled"] == len(rows) > 0
    for r in rows:
        assert {"session_id", "msg_id", "label", "text"} <= r.keys()
        assert r["label"] in CONTRACT_LABELS and 0.0 <= r["confidence"] <= 1.0
    from vault.store import open_vault

    con = open_vault(ex_db, read_only=True)
    kinds = dict(con.execute("SELECT msg_id, kind FROM messages").fetchall())
    con.close()
    assert {kinds[r["msg_id"]] for r in rows} <= {"human_prompt", "queued_prompt", "tool_rejection", "interrupt"}
    # The rejection carrying a typed reason is feedback, with the rejection record's msg_id.
    rejection = [r for r in rows if kinds[r["msg_id"]] == "tool_rejection"]
    assert rejection and all(r["label"] == "reattempt_with_feedback" for r in rejection)


PLANTED_CORRECTIONS = ("did you run the tests? don't tell me it's done before the test suite passes",
                       "No, read the spec in docs/refunds.md first before guessing. The rounding rule is in there.",
                       "too long. two sentences max, and no emojis",
                       "skip the preamble and keep it short, a bullet list is enough")
PLANTED_PRAISE = ("great, that works", "lgtm", "thanks, that's what I needed")


def test_planted_corrections_are_found_and_praise_is_not_a_correction(ex_db):
    run_cli("mine", db=ex_db)  # the learned backend
    by_text = {r["text"]: r["label"] for r in turns(ex_db)}
    for text in PLANTED_CORRECTIONS:
        assert by_text[text] == "reattempt_with_feedback", text
    for text in PLANTED_PRAISE:
        assert by_text[text] != "reattempt_with_feedback", text


def test_the_heuristic_backend_tells_praise_and_resends_apart(ex_db):
    # The learned model saw 7 praise turns in training and calls short praise a new request;
    # the heuristic's praise and re-send rules still decide these.
    run_cli("mine", "--backend", "heuristic", db=ex_db)
    by_text = {r["text"]: r["label"] for r in turns(ex_db)}
    for text in PLANTED_CORRECTIONS:
        assert by_text[text] == "reattempt_with_feedback", text
    for text in PLANTED_PRAISE:
        assert by_text[text] == "positive_feedback", text
    assert by_text["continue"] == "reattempt_without_feedback"


def test_mining_is_incremental_and_redo_relabels(tmp_path):
    from vault.ingest import ingest
    from vault.store import open_vault

    db = tmp_path / "v.duckdb"
    con = open_vault(db)
    ingest(con, [EXAMPLES / "claude-code" / "-home-jdoe-code-docs-site"])
    con.close()
    first = json.loads(run_cli("mine", "--json", db=db)[1])
    assert first["turns_labelled"] > 0
    again = json.loads(run_cli("mine", "--json", db=db)[1])
    assert again["turns_labelled"] == 0 and again["labels_in_vault"] == first["labels_in_vault"]
    con = open_vault(db)
    ingest(con, [EXAMPLES / "claude-code" / "-home-jdoe-code-billing-api"])
    new_human = con.execute("SELECT count(*) FROM messages WHERE kind IN "
                            "('human_prompt','queued_prompt','tool_rejection','interrupt') "
                            "AND msg_id NOT IN (SELECT msg_id FROM labels)").fetchone()[0]
    con.close()
    more = json.loads(run_cli("mine", "--json", db=db)[1])
    assert more["turns_labelled"] == new_human > 0
    redo = json.loads(run_cli("mine", "--redo", "--json", db=db)[1])
    assert redo["turns_labelled"] == sum(more["labels_in_vault"].values())


def test_turn_filters(ex_db):
    run_cli("mine", db=ex_db)
    rows = turns(ex_db, "--label", "reattempt_with_feedback")
    assert rows and {r["label"] for r in rows} == {"reattempt_with_feedback"}
    sid = rows[0]["session_id"]
    assert {r["session_id"] for r in turns(ex_db, "--session", sid[:8])} == {sid}


def test_a_relabel_in_review_overrides_the_miner(ex_db):
    from vault.store import open_vault

    run_cli("mine", db=ex_db)
    row = next(r for r in turns(ex_db) if r["label"] == "positive_feedback")
    con = open_vault(ex_db)
    con.execute("INSERT INTO reviews (target, target_id, decision, value) VALUES ('turn', ?, 'relabel', "
                "'reattempt_with_feedback')", [row["msg_id"]])
    con.close()
    now = {r["msg_id"]: r for r in turns(ex_db)}[row["msg_id"]]
    assert now["label"] == "reattempt_with_feedback" and now["backend"] == "review"


@pytest.fixture(scope="module")
def mined_corpus(mined_corpus_vault):
    return mined_corpus_vault


def test_no_message_hand_labelled_not_human_is_labelled(mined_corpus):
    from vault.store import open_vault

    gold = [json.loads(line) for line in DEV_LABELS.read_text().splitlines()]
    not_human = [g["msg_id"] for g in gold if g["label"] == "not_human"]
    con = open_vault(mined_corpus, read_only=True)
    labelled = {r[0] for r in con.execute("SELECT msg_id FROM labels WHERE msg_id IN (SELECT unnest(?))",
                                          [not_human]).fetchall()}
    con.close()
    # The one dev label older than issue #11's convention: an AskUserQuestion answer typed in "Other".
    assert len(not_human) > 500 and labelled == {FREE_ANSWER}


def test_eval_on_the_dev_labels_meets_the_targets(mined_corpus):
    """The offline backend on the hand labels of real sessions (the dev half; a larger set is held out)."""
    code, out, _ = run_cli("eval", str(DEV_LABELS), "--json", db=mined_corpus)
    assert code == 0
    rep = json.loads(out)
    assert rep["missing_from_vault"] == 0 and rep["messages"] == rep["gold_lines"]
    corr = rep["correction"]
    assert corr["precision"] >= 0.80 and corr["recall"] >= 0.65, corr
    assert rep["macro_f1"] >= 0.80
    assert rep["per_label"]["not_human"]["recall"] >= (rep["per_label"]["not_human"]["support"] - 1) / \
        rep["per_label"]["not_human"]["support"]  # all but FREE_ANSWER
    m = rep["confusion"]["matrix"]
    assert sum(map(sum, m)) == rep["messages"]
    code, text, _ = run_cli("eval", str(DEV_LABELS), db=mined_corpus)
    assert "Correction detection" in text and "Confusion" in text


def test_eval_scores_constructed_predictions_exactly():
    from miner.evaluate import score

    gold = {"a": "reattempt_with_feedback", "b": "reattempt_with_feedback", "c": "new_request", "d": "not_human"}
    pred = {"a": "reattempt_with_feedback", "b": "new_request", "c": "reattempt_with_feedback", "d": "not_human"}
    rep = score(gold, pred)
    assert rep["correction"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "tp": 1, "fp": 1, "fn": 1}
    assert rep["per_label"]["not_human"]["f1"] == 1.0 and rep["accuracy"] == 0.5
    assert rep["macro_f1"] == pytest.approx((0.5 + 0.0 + 1.0) / 3)


def test_eval_names_the_file_and_line_of_a_bad_label(tmp_path, ex_db):
    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"msg_id": "x", "label": "new_request"}\n{"msg_id": "y", "label": "grumpy"}\n')
    code, _, err = run_cli("eval", str(bad), db=ex_db)
    assert code != 0 and f"{bad}:2" in err and "grumpy" in err
    bad.write_text('{"msg_id": "x"}\n')
    code, _, err = run_cli("eval", str(bad), db=ex_db)
    assert code != 0 and f"{bad}:1" in err


def test_unknown_backend_is_a_clear_error():
    from miner.classify import get_backend

    with pytest.raises(ValueError, match="unknown classifier backend 'magic'"):
        get_backend("magic")


def test_the_report_says_what_the_shipped_model_gives_on_new_people_and_only_for_it(ex_db):
    from miner.classify.learned import NEW_PEOPLE, shipped_model
    from miner.classify.train import VERSION

    # the figure belongs to the model it was measured on: a refit (train.VERSION bumped) must measure it again
    assert NEW_PEOPLE["version"] == VERSION == shipped_model().version
    assert 0 < NEW_PEOPLE["precision"] < 1 and 0 < NEW_PEOPLE["recall"] < 1 and NEW_PEOPLE["people"] > 0
    code, out, _ = run_cli("mine", "--json", db=ex_db)
    rep = json.loads(out)
    assert code == 0 and rep["version"] == VERSION and rep["on_new_people"] == NEW_PEOPLE
    code, out, _ = run_cli("mine", "--redo", db=ex_db)
    assert code == 0 and rep["labels_in_vault"].get("reattempt_with_feedback")
    flat = " ".join(out.split())
    assert f"on {NEW_PEOPLE['people']} people it never saw, {NEW_PEOPLE['precision']:.0%} of the turns" in flat
    assert "`vault mine --fit`" in flat and "`vault eval`" in flat
    assert "`vault mine --backend anthropic --redo`" in flat  # the opt-in reader, named with its cost, never run
    for args in (("--backend", "heuristic"), ("--no-embed",)):  # measured apart from it: no figure claimed
        code, out, _ = run_cli("mine", "--redo", "--json", *args, db=ex_db)
        assert code == 0 and "on_new_people" not in json.loads(out), args
    code, out, _ = run_cli("mine", "--redo", "--backend", "heuristic", db=ex_db)
    assert code == 0 and "never saw" not in out
