"""Preference pairs: built from the examples' planted corrections, the real corpora, and edge cases."""

from __future__ import annotations

import json

import pytest
from support import run_cli

from miner.filters import FILTER_NAMES, Candidate, FilterOptions, apply_filters
from miner.pairs import Segment, build_pairs, build_prompt, next_attempt_candidates
from miner.render import tool_line

CONTRACT = {"pair_id": str, "session_id": str, "role_name": str, "feedback_msg_id": str, "prompt": list,
            "chosen": list, "rejected": list, "method": str}


def _pairs(con, kept_only=False) -> list[dict]:
    rows = con.execute("SELECT pair_id, session_id, feedback, prompt, chosen, rejected, filters_failed, kept, "
                       "feedback_msg_id FROM pairs" + (" WHERE kept" if kept_only else "")).fetchall()
    keys = ("pair_id", "session_id", "feedback", "prompt", "chosen", "rejected", "failed", "kept", "feedback_msg_id")
    out = [dict(zip(keys, r)) for r in rows]
    for p in out:
        for k in ("prompt", "chosen", "rejected", "failed"):
            p[k] = json.loads(p[k])
    return out


def _by_feedback(pairs: list[dict], prefix: str) -> dict:
    [p] = [p for p in pairs if p["feedback"].startswith(prefix)]
    return p


def test_examples_pairs_follow_the_planted_corrections(hand_vault, vault_copy):
    con = vault_copy(hand_vault)
    rep = build_pairs(con)
    pairs = _pairs(con)
    assert rep["corrections"] == 10 and rep["pairs"] == len(pairs) == 9
    # the refund session is a chain of two corrections: one pair, from the last rejected attempt
    assert rep["skipped"]["superseded_by_chain"] == 1
    refund = _by_feedback(pairs, "don't edit an applied migration")
    assert refund["prompt"][-1] == {"role": "user", "content": "No, read the spec in docs/refunds.md first before "
                                    "guessing. The rounding rule is in there."}
    assert [m["role"] for m in refund["prompt"]] == ["user", "assistant", "user"]
    # tool calls show what they did: the file and a bounded diff of the edit
    assert refund["rejected"][0]["content"].endswith(
        "[Edit] /home/jdoe/code/billing-api/migrations/0007_refund_amounts.py\n@@ -1 +1 @@\n-Numeric(10, 2)\n"
        "+Numeric(12, 4)")
    assert "0012" in refund["chosen"][0]["content"]
    # "Understood. I'll leave 0007 alone ...": the chosen answer replies to the feedback, not to the prompt
    assert refund["failed"] == ["reply_to_feedback"]
    # agent answers: text plus one compact line per tool call
    tests = _by_feedback(pairs, "did you run the tests?")
    assert tests["chosen"][0]["content"].startswith("[Bash] $ pytest -q tests/test_invoices.py\nYou're right")
    # the flattery after the tool call counts: an agent answer's text starts after its calls
    assert tests["failed"] == ["sycophantic_opener", "reply_to_feedback"]
    assert "[Grep] def get_invoice" in tests["rejected"][0]["content"]
    # interrupted and continued chosen answer: one answer, flagged
    export_fix = _by_feedback(pairs, "Traceback")
    # a pasted traceback is debugging, not a correction (the gate), and its chosen was interrupted
    # the traceback's quoted key ('...') is a fact only the feedback gave, and the chosen answer uses it
    assert export_fix["failed"] == ["gate_pasted_failure", "gate_outcome_report", "feedback_facts",
                                    "chosen_corrected_later"]
    assert "18 passed" in export_fix["chosen"][0]["content"]
    assert _by_feedback(pairs, "no, never hardcode")["failed"] == ["secrets"]
    # no pair from a session without corrections (billing-question)
    no_corr = con.execute("SELECT session_id FROM sessions WHERE first_prompt LIKE 'What does the `dunning_level`%'"
                          ).fetchone()[0]
    assert no_corr not in {p["session_id"] for p in pairs}
    assert {p["session_id"] for p in pairs} <= {r[0] for r in con.execute(
        "SELECT session_id FROM labels WHERE label = 'reattempt_with_feedback'").fetchall()}


def test_rebuild_is_deterministic_keeps_reviews_and_honours_relabels(hand_vault, vault_copy):
    con = vault_copy(hand_vault)
    build_pairs(con)
    first = {p["pair_id"]: p for p in _pairs(con)}
    pid = next(iter(first))
    con.execute("INSERT INTO reviews (target, target_id, decision) VALUES ('pair', ?, 'accept')", [pid])
    # a person says the "good" after the intro rewrite was a correction: the intro pair's chosen is superseded
    # (the example archive has two "good" turns: take the one in the intro pair's session)
    intro = next(p for p in first.values() if p["feedback"].startswith("too long"))
    good = con.execute("SELECT l.msg_id FROM labels l JOIN messages m USING (msg_id) "
                       "WHERE m.text = 'good' AND l.label = 'positive_feedback' AND m.session_id = ?",
                       [intro["session_id"]]).fetchall()
    assert len(good) == 1
    good = good[0][0]
    con.execute("INSERT INTO reviews (target, target_id, decision, value) "
                "VALUES ('turn', ?, 'relabel', 'reattempt_with_feedback')", [good])
    rep = build_pairs(con)
    second = {p["pair_id"]: p for p in _pairs(con)}
    assert con.execute("SELECT count(*) FROM reviews WHERE target_id = ?", [pid]).fetchone()[0] == 1
    assert intro["pair_id"] not in second  # superseded by the relabelled turn
    assert rep["corrections"] == 11
    assert set(first) - {intro["pair_id"]} <= set(second)
    for k in set(first) & set(second):
        assert first[k]["chosen"] == second[k]["chosen"]


def test_pairs_cli_json_contract(hand_vault, vault_copy, tmp_path):
    con = vault_copy(hand_vault)
    path = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0]
    con.close()
    code, out, _ = run_cli("pairs", "--json", db=path)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 5 and all(r["kept"] for r in rows)
    for r in rows:
        for k, t in CONTRACT.items():
            assert isinstance(r[k], t), k
        assert r["persona"] is None or isinstance(r["persona"], str)
        assert r["chosen"][0]["role"] == r["rejected"][0]["role"] == "assistant"
        assert r["prompt"][-1]["role"] == "user"
        assert set(r["filters_passed"]) | set(r["filters_failed"]) == set(FILTER_NAMES)
    code, out, _ = run_cli("pairs", "--json", "--all", "--no-rebuild", db=path)
    assert len(out.splitlines()) == 9
    code, out, _ = run_cli("pairs", "--json", "--limit", "2", db=path)
    assert len(out.splitlines()) == 2
    code, out, _ = run_cli("pairs", "--limit", "1", db=path)
    assert code == 0 and "9 pairs from 10 corrections" in out and "rejected" in out


def test_corpora_pairs_for_hand_labelled_corrections(corpus_dev_vault, vault_copy):
    con = vault_copy(corpus_dev_vault)
    rep = build_pairs(con)
    pairs = _pairs(con)
    assert rep["corrections"] == 40 and len(pairs) >= 10
    labels = dict(con.execute("SELECT msg_id, label FROM labels").fetchall())
    assert all(labels[p["feedback_msg_id"]] == "reattempt_with_feedback" for p in pairs)
    with_corr = {r[0] for r in con.execute(
        "SELECT DISTINCT session_id FROM labels WHERE label = 'reattempt_with_feedback'").fetchall()}
    assert {p["session_id"] for p in pairs} <= with_corr
    for p in pairs:
        assert p["prompt"] and p["prompt"][0]["role"] == "user" and p["prompt"][-1]["role"] == "user"
        assert sum(len(m["content"]) for m in p["prompt"]) <= 6000 or len(p["prompt"]) == 1
        roles = [m["role"] for m in p["prompt"]]
        assert all(a != b for a, b in zip(roles, roles[1:]))  # merged: roles alternate
    # sidechain (subagent) messages never enter a pair
    side = {r[0] for r in con.execute("SELECT msg_id FROM messages WHERE is_sidechain").fetchall()}
    assert not side & {p["feedback_msg_id"] for p in pairs}


def test_corpora_pairs_from_mined_labels(corpus_mined_vault, vault_copy):
    con = vault_copy(corpus_mined_vault)
    rep = build_pairs(con)
    # On real sessions the person's next attempt almost never answers the same prompt (1 valid pair in the 117
    # judged, data/pairs/judged.jsonl): the gate and filters keep very few, at most that one.
    assert rep["corrections"] > 0 and rep["pairs"] > 0 and rep["kept"] <= 1
    from miner.quality import sycophantic_opener

    for p in _pairs(con):
        assert p["kept"] == (p["failed"] == [])
        assert not (p["kept"] and sycophantic_opener(p["chosen"][0]["content"]))
    no_corr = con.execute("SELECT count(*) FROM pairs WHERE session_id NOT IN (SELECT session_id FROM labels "
                          "WHERE label = 'reattempt_with_feedback')").fetchone()[0]
    assert no_corr == 0


# --- units: segments, prompt budget, tool lines ------------------------------------------

def _seg(i, label, text="", answer=""):
    from miner.pairs import Part

    parts = [Part(f"a{i}", "assistant_text", answer)] if answer else []
    return Segment(f"h{i}", "human_prompt", text, label, parts)


def _skipped():
    return {"no_request": 0, "no_rejected_answer": 0, "superseded_by_chain": 0, "not_accepted": 0}


def test_chain_yields_one_pair_and_acceptance_rules():
    lead = Segment(None, None, "", None)
    segs = [lead, _seg(1, "initial_request", "do X", "first try"), _seg(2, "reattempt_with_feedback", "no, Y",
            "second try"), _seg(3, "reattempt_with_feedback", "still wrong, Z", "third try"),
            _seg(4, "positive_feedback", "thanks")]
    sk = _skipped()
    [c] = next_attempt_candidates(segs, "s", "r", 6000, sk)
    assert (c.rejected, c.chosen, c.feedback) == ("second try", "third try", "still wrong, Z")
    assert [m["content"] for m in c.prompt] == ["do X", "first try", "no, Y"]
    assert sk["superseded_by_chain"] == 1
    # an unlabelled verdict is not an acceptance; the end of the session is
    segs[4].label = None
    assert next_attempt_candidates(segs, "s", "r", 6000, _skipped()) == []
    assert len(next_attempt_candidates(segs[:4], "s", "r", 6000, _skipped())) == 1
    # a correction right at the start has no request before it
    assert next_attempt_candidates([lead, _seg(1, "reattempt_with_feedback", "no", "x")], "s", "r", 6000,
                                   sk := _skipped()) == [] and sk["no_request"] == 1


def test_interrupt_before_feedback_is_see_through():
    lead = Segment(None, None, "", None)
    segs = [lead, _seg(1, "initial_request", "do X", "working on it"),
            Segment("h2", "interrupt", "[Request interrupted by user]", "interrupt"),
            _seg(3, "reattempt_with_feedback", "no, do Y instead", "did Y"), _seg(4, "new_request", "next")]
    [c] = next_attempt_candidates(segs, "s", "r", 6000, _skipped())
    assert c.rejected == "working on it" and c.prompt == [{"role": "user", "content": "do X"}]
    assert not c.chosen_interrupted


def test_prompt_budget_drops_oldest_and_starts_with_user():
    lead = Segment(None, None, "", None)
    segs = [lead] + [_seg(i, "new_request", f"q{i} " + "x" * 100, f"a{i} " + "y" * 100) for i in range(1, 6)]
    p = build_prompt(segs, 5, 450)
    assert p[-1]["content"].startswith("q5") and p[0]["role"] == "user"
    assert sum(len(m["content"]) for m in p) <= 450
    assert build_prompt(segs, 5, 10) == [{"role": "user", "content": segs[5].text}]  # the request always stays


def test_tool_calls_rendered_with_what_they_did_within_a_budget():
    from miner.pairs import Part, render_answer

    edit = json.dumps({"file_path": "/a/b.py", "old_string": "x = 1\ny = 2", "new_string": "x = 1\ny = 3"})
    bash = json.dumps({"command": "pytest -q tests/test_b.py \\\n  --lf"})
    write = json.dumps({"file_path": "/a/new.py", "content": "\n".join(f"line {i}" for i in range(30))})
    parts = [Part("t", "assistant_text", "Fixing y."), Part("e", "tool_call", "[Edit] /a/b.py", "Edit", edit),
             Part("b", "tool_call", "[Bash] pytest -q tests/test_b.py --lf", "Bash", bash),
             Part("w", "tool_call", "[Write] /a/new.py", "Write", write)]
    out = render_answer(parts)
    assert "[Edit] /a/b.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3" in out
    assert "[Bash] $ pytest -q tests/test_b.py \\\n  --lf" in out  # the whole command, as typed
    assert "[Write] /a/new.py (30 lines)\n    line 0" in out and "(18 more lines)" in out
    # past the budget, calls keep their one-line stub
    tight = render_answer(parts, budget=30)  # the diff (+37 chars) does not fit, the command (+5) does
    assert "-y = 2" not in tight and "[Edit] /a/b.py\n[Bash] $ pytest" in tight and "line 0" not in tight
    assert tight.endswith("[Write] /a/new.py")
    huge = json.dumps({"file_path": "/a/b.py", "old_string": "\n".join(map(str, range(100))), "new_string": ""})
    big = render_answer([Part("e", "tool_call", "[Edit] /a/b.py", "Edit", huge)], budget=10_000)
    assert "more diff lines" in big and len(big.splitlines()) <= 26


def test_tool_details_count_one_in_the_singular():
    """A one-line file, one edit, one line or one diff line past the cut: "1 line", never "(1 lines)"."""
    from miner.render import DIFF_LINES, WRITE_LINES, tool_detail

    one = tool_detail("Write", json.dumps({"file_path": "/a/one.py", "content": "x = 1\n"}))
    assert one == "[Write] /a/one.py (1 line)\n    x = 1"
    past = tool_detail("Write", json.dumps({"file_path": "/a/w.py", "content": "\n".join("x" * (WRITE_LINES + 1))}))
    assert f"({WRITE_LINES + 1} lines)" in past and past.endswith("… (1 more line)")
    edit = {"old_string": "a", "new_string": "b"}
    assert tool_detail("MultiEdit", json.dumps({"file_path": "/a/m.py", "edits": [edit]})).startswith(
        "[MultiEdit] /a/m.py (1 edit)\n")
    assert "(2 edits)" in tool_detail("MultiEdit", json.dumps({"file_path": "/a/m.py", "edits": [edit, edit]}))
    # a hunk header, then old and new lines: DIFF_LINES + 1 diff lines once old + new = DIFF_LINES
    n = DIFF_LINES // 2
    diff = tool_detail("Edit", json.dumps({"file_path": "/a/e.py", "old_string": "\n".join(f"o{i}" for i in range(n)),
                                           "new_string": "\n".join(f"n{i}" for i in range(DIFF_LINES - n))}))
    assert diff.endswith("… (1 more diff line)"), diff


def test_tool_line():
    assert tool_line("Bash", '{"command": "pytest -q\\n  --lf"}', "") == "[Bash] pytest -q --lf"
    assert tool_line("Edit", '{"file_path": "/a/b.py", "old_string": "x"}', "") == "[Edit] /a/b.py"
    assert tool_line("Foo", None, "Foo(x=1)") == "[Foo] x=1"
    assert len(tool_line("Bash", json.dumps({"command": "z" * 500}), "")) < 200


# --- filters, each on a constructed case ------------------------------------------------

def _cand(**kw) -> Candidate:
    base = dict(pair_id="p", session_id="s", role_name="r", method="next_attempt", feedback_msg_id="f",
                rejected_msg_id="r1", chosen_msg_id="c1", prompt=[{"role": "user", "content": "write a haiku"}],
                chosen="An old silent pond, a frog jumps in.", rejected="Ponds are bodies of still water.",
                feedback="make it a poem")
    return Candidate(**(base | kw))


@pytest.mark.parametrize("name,kw", [
    ("empty", {"chosen": "   "}),
    ("near_identical", {"chosen": "Ponds are bodies of still water!"}),
    ("too_short", {"chosen": "ok"}),
    ("too_long", {"rejected": "word " * 3000}),
    ("chosen_corrected_later", {"chosen_interrupted": True}),
    ("chosen_corrected_later", {"chosen_corrected": True}),
    ("acknowledged_after", {"turn_after": "no, a haiku has three lines",
                            "answer_after": "You're right, I misread the form. Let me fix it."}),
    ("tool_only", {"chosen_has_text": False}),
    ("secrets", {"prompt": [{"role": "user", "content": "use token ghp_" + "a1B2c3D4e5" * 4}]}),
    ("gate_confidence", {"confidence": 0.55}),
    ("gate_not_typed", {"feedback_typed": False}),
    ("gate_status_question", {"feedback": "is it done yet?"}),
    ("gate_outcome_report", {"feedback": "well now the button does nothing"}),
    ("gate_pasted_failure", {"feedback": "Traceback (most recent call last):\n  File \"a.py\", line 3\n"
                                         "ValueError: bad haiku"}),
    ("across_human_turn", {"rejected_joined": True}),
    ("sycophantic_opener", {"chosen": "You're absolutely right! An old silent pond, a frog jumps in."}),
    ("reply_to_feedback", {"chosen": "Got it, a poem then: an old silent pond, a frog jumps in."}),
    ("feedback_question", {"feedback": "did you check the syllable count?"}),
    ("reply_to_feedback", {"chosen": "[Read] haiku.txt\nNo, I should check it: an old silent pond, a frog jumps in."}),
    ("feedback_facts", {"feedback": "make it a poem about basho_pond.txt",
                        "chosen": "From basho_pond.txt: an old silent pond, a frog jumps in."}),
])
def test_each_filter_catches_its_case(name, kw):
    good, bad = _cand(pair_id="good"), _cand(**kw)
    counts = apply_filters([good, bad])
    assert good.failed == []
    assert name in bad.failed
    assert counts[name] == 1


def test_secrets_filter_ignores_personal_details_and_duplicates_keep_the_first():
    c = _cand(prompt=[{"role": "user", "content": "see /home/jdoe/x.py, mail jane.doe@example.com"}])
    apply_filters([c])
    assert c.failed == []  # redacted on export, but not a reason to drop the pair
    a, b = _cand(pair_id="a", session_id="s1"), _cand(pair_id="b", session_id="s2", feedback="Make it  a POEM")
    counts = apply_filters([a, b])
    assert (a.failed, b.failed, counts["duplicate"]) == ([], ["duplicate"], 1)


def test_filter_thresholds_are_configurable():
    c = _cand(chosen="short one.", rejected="Another short one")
    apply_filters([c], FilterOptions(min_chars=12))
    assert c.failed == ["too_short"]
    apply_filters([c], FilterOptions(min_chars=5, near_identical=0.3))
    assert c.failed == ["near_identical"]


# --- ChatGPT branches and thumbs -------------------------------------------------------------

CHATGPT = __import__("support").ROOT / "tests" / "fixtures" / "sources" / "chatgpt"


def _chatgpt_pairs(con, folder) -> dict[str, dict]:
    from vault.ingest import ingest

    ingest(con, [folder])
    rep = build_pairs(con)
    assert rep["corrections"] == 0  # nothing mined: these pairs come from the branches alone
    return {p["feedback"]: p | {"method": m} for p, m in zip(_pairs(con), [r[0] for r in con.execute(
        "SELECT method FROM pairs").fetchall()])}


def test_chatgpt_thumbs_and_edit_pairs(con):
    pairs = _chatgpt_pairs(con, CHATGPT)
    thumbs = pairs["too generic"]  # the thumbs-down text of the regenerated-away answer
    assert thumbs["method"] == "thumbs" and thumbs["kept"]
    assert thumbs["prompt"] == [{"role": "user", "content": "Write a haiku about a slow build server"}]
    assert thumbs["rejected"][0]["content"].startswith("Fans hum")
    assert thumbs["chosen"][0]["content"].startswith("Progress bar")
    edit = pairs["Now one about CI pipelines, same tone"]
    assert edit["method"] == "edit" and edit["prompt"][-1] == {"role": "user", "content": "Make it about CI instead"}
    assert edit["rejected"][0]["content"].startswith("Pipeline turns red")
    assert edit["chosen"][0]["content"].startswith("Queued behind")
    # deterministic ids, one per anchor and method
    assert thumbs["pair_id"] != edit["pair_id"] and len(pairs) == 2


def test_chatgpt_regeneration_without_thumbs(con, tmp_path):
    import shutil

    shutil.copy(CHATGPT / "conversations.json", tmp_path / "conversations.json")  # no message_feedback.json
    pairs = _chatgpt_pairs(con, tmp_path)
    [regen] = [p for p in pairs.values() if p["method"] == "regeneration"]
    assert regen["feedback"] == "(regenerated)" and regen["rejected"][0]["content"].startswith("Fans hum")


def test_gate_does_not_touch_branch_pairs_and_confidence_threshold_is_an_option():
    branch = _cand(method="regeneration", confidence=0.1, feedback="(regenerated)", feedback_typed=False)
    low = _cand(pair_id="low", confidence=0.65)
    apply_filters([branch, low], FilterOptions(gate_confidence=0.6))
    assert branch.failed == [] and low.failed == []
    # the same-prompt checks are for next_attempt pairs; a rewrite only loses its opener (stripped upstream)
    rw = _cand(method="rewrite", chosen="Got it: an old silent pond, a frog jumps in.")
    apply_filters([rw])
    assert rw.failed == []


@pytest.mark.parametrize("text,opener", [
    ("You're absolutely right! The test fails because ...", "You're absolutely right!"),
    ("You are right - I should have read it.", "You are right - "),
    ("Great catch. The loop is off by one.", "Great catch."),
    ("Ah, good point, let me fix that.", "Ah, good point, "),
    ("I apologize for the confusion. Here is the fix.", "I apologize for the confusion."),
    ("Good approach - batching is safer.", "Good approach - "),
    ("The loop is off by one. You're right that it matters.", None),
    ("Rightly so, the rounding comes first.", None),
    ("[Bash] pytest -q", None),
])
def test_sycophantic_openers_found_and_stripped(text, opener):
    from miner.quality import strip_opener, sycophantic_opener

    assert sycophantic_opener(text) == opener
    stripped, did = strip_opener(text)
    assert did == (opener is not None)
    if opener:
        assert sycophantic_opener(stripped) is None and stripped and stripped[0].isupper()


def test_flattery_after_tool_calls_is_stripped_too():
    from miner.quality import flattery, strip_flattery

    answer = "[Read] src/app.py\nYou're absolutely right! The handler swallows the error.\n[Edit] src/app.py"
    stripped, did = strip_flattery(answer)
    assert did and stripped == "[Read] src/app.py\nThe handler swallows the error.\n[Edit] src/app.py"
    assert flattery(stripped) is None
    assert strip_flattery("[Read] a.py\nThe handler swallows the error.") == (
        "[Read] a.py\nThe handler swallows the error.", False)
    assert strip_flattery("Great catch - the limit is 250.")[0] == "The limit is 250."


def test_same_prompt_facts_and_gate_texts():
    from miner.quality import feedback_only_facts, is_pasted_failure, is_status_question

    fb = "the limit is 250 per page, see docs/api/paging.md"
    assert feedback_only_facts(fb, "Set the page size to 250 as docs/api/paging.md says.", ["list the users"]) == [
        "250", "docs/api/paging.md"]
    # a fact the prompt or the rejected answer already had is not the feedback's
    assert feedback_only_facts(fb, "Read docs/api/paging.md first.", ["see docs/api/paging.md"]) == []
    # single-quoted text is a fact, an apostrophe is not (data/pairs/fresh_sample_7.jsonl, b25ce4abfeff)
    fb = "dont use 'uv pip ...' to run it. Also, dependencies are installed with 'uv sync'. Don't overcomplicate"
    assert feedback_only_facts(fb, "Use `uv sync`; no more `uv pip ...` commands.", ["explain how to use uv"]) == [
        "uv pip", "uv sync"]
    assert feedback_only_facts("don't do it, it's wrong", "don't do it, it's wrong", []) == []
    assert is_status_question("did the build finish?") and is_status_question("is it working now?")
    assert not is_status_question("what's the status")  # not a question: no question mark
    assert not is_status_question("did you run the tests?")  # a correction phrased as a question
    assert not is_status_question("why is this still working with the old API? use v2")
    assert is_pasted_failure("npm ERR! code ERESOLVE\nnpm ERR! peer dep missing\nnpm ERR! fix the upstream")
    assert not is_pasted_failure("this fails with KeyError: currency because old invoices have no currency; "
                                 "default to the account currency instead of crashing")


def test_outcome_reports_are_not_corrections():
    from miner.quality import is_outcome_report

    for report in ("spinning", "nooe", "it isnt showing up", "empty response from proxy"):
        assert is_outcome_report(report), report
    for corr in ("we're using BDD lingo, call them specs", "don't put comments into bash snippets",
                 "i would prefer this to run on command", "why --fix=lf instead of --fix=yes?",
                 # a contrast names what was meant (data/pairs/fresh_sample_5.jsonl, 5696cb388ac3841800a0)
                 "not the app list but the launcher, like action bar, cosmic action bar?"):
        assert not is_outcome_report(corr), corr
    assert is_outcome_report("still not working but the icon shows")  # "not working but": no contrast of things
    # "no error" reports what happened, "no emojis" asks for something (data/pairs/fresh_sample_7.jsonl, 4a6981e1030f)
    assert is_outcome_report("no error, but the graph is empty") and is_outcome_report("no such file or directory")
    assert not is_outcome_report("no emojis") and not is_outcome_report("no changes to the tests")
    # found on fresh sample 8 (3e5878094e67), measured on the pooled earlier samples and the shared corpora's personas
    assert is_outcome_report("no change in the resultant markdown file i am sorry to say, can you consider and resolve")


def test_flattery_and_replies_after_tool_calls():
    """An agent answer often starts with tool calls and replies to the feedback in the prose after them."""
    from miner.quality import first_prose, flattery, replies_to_feedback

    edit = "[Edit] ~/spec.md\n@@ -1 +1,2 @@\n-old\n+new\n+more\nThat makes sense - the deploy layer is separate.\n[Bash] $ ls"
    assert first_prose(edit) == "That makes sense - the deploy layer is separate."
    assert replies_to_feedback(edit) and flattery(edit) is None
    assert flattery("[Bash] $ pytest -q\nYou're absolutely right! Two tests fail.")
    assert not replies_to_feedback("[Bash] $ pytest -q\n    12 passed\nAll 12 tests pass; the refund rounds half up.")
    assert first_prose("[Read] ~/a.py") == ""
    # "Ah, you mean X": the answer takes up the feedback's clarification (fresh_sample_5.jsonl, 5696cb388ac3841800a0)
    assert replies_to_feedback("Ah, you mean the cosmic-launcher - the command/action bar! Let me find its files:")
    assert not replies_to_feedback("The launcher is configured in COSMIC Settings, under keyboard shortcuts.")
    assert not replies_to_feedback("If you mean the panel, restart it with cosmic-panel --replace.")


# --- look-ahead: what the assistant did right after a person's turn --------------------------

@pytest.mark.parametrize("answer,ack", [
    ("You're absolutely right, the test was wrong.", True),
    ("Good catch - I missed the None case.", True),
    ("Ah, I see the issue: the path is relative.", True),
    ("I apologize for the confusion.", True),
    ("Let me revert that change.", True),
    ("Tienes razón, lo corrijo.", True),
    ("Here is the chart with bubbles sized by games.", False),
    ("Let me check the logs.", False),
    ("", False),
    (None, False),
])
def test_acknowledges(answer, ack):
    # the pair filters read the miner's detector (the after family's ack or fix feature), not a copy of it
    from miner.classify.after import acknowledges

    assert acknowledges(answer) is ack


# Real answers after a hand-labelled turn (data/labels, `answer_after`): (file, session, n, acknowledges)
REAL_ANSWERS = [
    # a correction ("I want to write directly in the dropdown field"): "Ah, now I understand what you want!"
    ("not-in-model/external-league-analyzer.jsonl", "136f0a5e", 16, True),
    # a correction answered "I see the TypeScript errors. The issue is ...": a repair (the main copy missed it)
    ("not-in-model/external-robin-collins-gpt-crawler.jsonl", "2025-03-06_19-35", 6, True),
    # new requests answered "Good question ...", "Great question.": agreeing is no acknowledgement (main's copy fired)
    ("not-in-model/external-pashanaumov-workbench.jsonl", "claude-conversation", 22, False),
    ("not-in-model/external-mcpify.jsonl", "chat-history", 25, False),
]


@pytest.mark.parametrize("name,session,n,ack", REAL_ANSWERS)
def test_acknowledges_on_real_answers(name, session, n, ack):
    from pathlib import Path

    from miner.classify.after import acknowledges

    path = Path(__file__).resolve().parents[2] / "data" / "labels" / name
    [row] = [r for r in map(json.loads, path.read_text().splitlines()) if r["session"] == session and r["n"] == n]
    assert acknowledges(row["answer_after"]) is ack


def test_gate_confidence_passes_on_an_acknowledged_correction():
    # a low-confidence label whose next answer says "You're right": the assistant itself took it as a correction
    low = _cand(confidence=0.4, feedback_answer="An old silent pond, a frog jumps in.")
    acked = _cand(pair_id="a", confidence=0.4, method="rewrite",
                  feedback_answer="You're right, a poem. [Edit] haiku.txt")
    apply_filters([low, acked])
    assert "gate_confidence" in low.failed and "gate_confidence" not in acked.failed


def test_look_ahead_reads_the_turn_after_the_chosen_answer():
    from miner.pairs import Part

    lead = Segment(None, None, "", None)
    segs = [lead, _seg(1, "initial_request", "do X", "first try"), _seg(2, "reattempt_with_feedback", "no, Y",
            "second try"), _seg(3, "new_request", "now Z", "You're right, I broke X. Fixing it."),
            Segment("h4", "interrupt", "[Request interrupted by user]", "interrupt",
                    [Part("a4", "assistant_text", "more")])]
    [c] = next_attempt_candidates(segs, "s", "r", 6000, _skipped())
    assert c.turn_after == "now Z" and c.answer_after == "You're right, I broke X. Fixing it.\nmore"
    assert c.feedback_answer == "second try" and not c.chosen_corrected
    apply_filters([c])
    assert "acknowledged_after" in c.failed
    # the session ends after the chosen answer: nothing to read (None, not "said nothing")
    [end] = next_attempt_candidates(segs[:3], "s", "r", 6000, _skipped())
    assert end.turn_after is None and end.answer_after is None


def test_feedback_answer_is_the_prose_head_the_miner_reads():
    # tool calls left out, as Turn.next_assistant and answer_after hold an answer: the acknowledgement is in the prose
    from miner.classify.after import acknowledges
    from miner.pairs import Part, prose_head

    parts = [Part("a1", "tool_call", "[Edit] a.py"), Part("a2", "assistant_text", "  You're right, the test was wrong. "),
             Part("a3", "tool_call", "[Bash] $ pytest"), Part("a4", "assistant_text", "")]
    assert prose_head(parts) == "You're right, the test was wrong."
    assert acknowledges(prose_head(parts)) and prose_head([]) == ""
