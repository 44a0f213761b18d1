"""Each cue family and structural rule of the heuristic classifier, on real lines where possible.

Quoted user lines come from ../shared/corpora (goodsch/brain_explore, saross/trap-extraction,
palimondo/BookMinder, nikblanchet/claude-code-production-patterns; see corpora/SOURCES.md).
"""

from __future__ import annotations

import pytest

from miner.classify import cues as C
from miner.classify.base import Turn
from miner.classify.heuristic import HeuristicClassifier, _one_edit, _typo_fixed, resend_similarity

CLF = HeuristicClassifier()
FIXED = "Deployed. Reload SiYuan and try \"Start Session\" again."  # an assistant claiming a fix
ASKS = "Which option do you prefer: A, B or C?"


def turn(text, *, kind="human_prompt", prev_assistant=FIXED, prev_kind="human_prompt", prev_typed="earlier request",
         position=3, context=None):
    return Turn(msg_id="m", session_id="s", kind=kind, text=text, position=position, prev_assistant=prev_assistant,
                prev_kind=prev_kind, prev_typed=prev_typed, prev_typed_id="p",
                context=context if context is not None else [("user", prev_typed or ""), ("assistant", "ok")])


def names(cues, text):
    return {c.name for c in C.fired(cues, text)}


@pytest.mark.parametrize("text, cue", [
    ("nope", "negation_opening"),
    ("No, read the spec in docs/refunds.md first before guessing.", "negation_opening"),
    ("it isnt showing up", "does_not_work"),
    ("well now the button does nothing", "broken_outcome"),
    ("spinning", "broken_outcome"),
    ("IES backend is not available. Please ensure it's running on port 8081.", "broken_outcome"),
    ("i mean the ies notebook", "i_meant"),
    ("Several things... 1. you added a ton of stuff to .gitignore (forgot YAGNI again?!?)", "frustration"),
    ("I think it might be best to use a correction manifest rather than working in attribution.csv directly",
     "instead"),
    ("hold on look in @ies/reference/petal/", "stop_wait"),
    ("Please don't write doctrings in specs, these are redundant", "dont"),
    ("I don't want to commit the empty __init__.py files! Why do we have them again?", "why_did_you"),
    ("did you also document the genuine duplicate in Kazanlak A?", "skipped_step_question"),
    ("Did you run test in RED phase?!?", "skipped_step_question"),
    ("my modification to CLAUDE.md wasn't a typo! review it", "wrong_word"),
    ("too long. two sentences max, and no emojis", "too_much"),
    ("skip the preamble and keep it short", "too_much"),
    ("revert that change", "undo"),
    ("ok, great - can you make one correction to the follow-up-actions?", "change_delivered"),
    ("its feeling like we are just grasping right now", "frustration"),
    ("it works on the web ui but on ios it says backend not available", "works_but"),
    ("im on ipados and the webinspector wont open after i hit start", "cannot_follow"),
    ("it doesn't sound quite like music. you know, music should have overlapping things", "sounds_wrong"),
    ("all of texts now sound the same", "sounds_wrong"),
    ("arent we working on ies here though", "objection_question"),
    ("but shouldnt ies be the active project", "objection_question"),
    ("I dislike you adding all the inline documentation to pyproject", "dislike"),
    ("i still see a lot of [[]]", "still_broken"),
    ("I see a new directory `bookminder.egg-info`. Where did that come from?", "why_did_you"),
    ("what about cli and export in the implementation?", "skipped_step_question"),
    ("Good, but don't put comments into bash snippets", "dont"),
    ("The commit message doesn't correctly reflect the changes you made, fix it", "does_not_work"),
])
def test_correction_cue_fires_on_real_feedback(text, cue):
    assert cue in names(C.CORRECTION_CUES, text)


@pytest.mark.parametrize("text", [
    "no one thing determines it. i think that the first job of therapy is being willing",
    "cognitive reframing wont work if someone is not ready",  # a general claim, not about the artefact
    "Add an endpoint GET /invoices/{id}/total that returns the invoice total including tax.",
    "Great. Commit and push it. Only stage/commit the files you changed",  # "you changed": a relative clause
    "Please do the same thing for `ruff` and `mypy`.",
    "Then, yes, let's work on resolving any remaining failed extractions",
    "yes",
])
def test_correction_cues_stay_quiet_on_requests_and_answers(text):
    strong = {c.name for c in C.fired(C.CORRECTION_CUES, text) if c.weight >= 2.4}
    assert not strong


@pytest.mark.parametrize("text", [
    "Error: null is not an object (evaluating 'l.session_id') v3.4.1",
    "forward request failed: Post \"http://127.0.0.1:8081/session/start\": dial tcp: connect: connection refused",
    'Traceback (most recent call last):\n  File "x.py", line 3\nKeyError: 42',
    'Proxy returned empty data: {"code":0,"msg":"","data":null}',
])
def test_error_paste(text):
    assert C.fired(C.ERROR_PASTE, text)


def test_false_friends_answers_and_polite_requests():
    assert "approval" in names(C.ANSWER_CUES, "yes")
    assert "approval" in names(C.ANSWER_CUES, "B")
    assert "polite_request" in names(C.ANSWER_CUES, "can you add a version badge to the ui?")
    assert "new_task" in names(C.ANSWER_CUES, "ok, thank you. Now I'd like you to think about QA")


def test_typos_in_short_praise_are_forgiven():
    assert _one_edit("eorks", "works") and _one_edit("workef", "worked") and _one_edit("teh", "the")
    assert not _one_edit("works", "words!")
    assert "works" in _typo_fixed("it eorks!!!")
    assert CLF.label_one(turn("it eorks!!!")).label == "positive_feedback"
    assert CLF.label_one(turn("it all workef")).label == "positive_feedback"


# --- structure -------------------------------------------------------------------------------

def test_interrupts_and_rejections():
    assert CLF.label_one(turn("[Request interrupted by user]", kind="interrupt")).label == "interrupt"
    assert CLF.label_one(turn("", kind="tool_rejection")).label == "interrupt"
    lab = CLF.label_one(turn("don't edit an applied migration, add a new one", kind="tool_rejection"))
    assert lab.label == "reattempt_with_feedback" and lab.confidence >= 0.9


def test_first_request_of_a_session_is_initial():
    t = turn("Why are partial refunds off by one cent?", prev_assistant=None, prev_typed=None, position=0, context=[])
    assert CLF.label_one(t).label == "initial_request"
    # the first typed turn after an assistant message (a resumed session) is not initial
    assert CLF.label_one(turn("Add tests for it", position=0, prev_typed=None)).label != "initial_request"


def test_resend_and_continue_are_reattempts_without_feedback():
    same = "Please do implement your recommendations, I want to make sure the archive is legible."
    t = turn(same + "\n  ⎿ API Error: 529 overloaded", prev_typed=same, context=[("user", same)])
    assert CLF.label_one(t).label == "reattempt_without_feedback"
    assert CLF.label_one(turn("continue")).label == "reattempt_without_feedback"
    assert CLF.label_one(turn("try again")).label == "reattempt_without_feedback"
    assert CLF.label_one(turn("Please continue. My mistake")).label == "reattempt_without_feedback"
    # "yes" twice answers two questions
    assert CLF.label_one(turn("yes", prev_typed="yes", prev_assistant=ASKS, context=[("user", "yes")])).label \
        == "new_request"
    assert resend_similarity("Fix the build", "fix the build!") == 1.0
    assert resend_similarity("Fix the build", "Write the docs") < 0.9


def test_failure_after_a_claimed_fix_is_a_correction():
    lab = CLF.label_one(turn("failed to start session load failed"))
    assert lab.label == "reattempt_with_feedback"
    assert any("claimed success" in r for r in lab.reasons)


def test_an_answer_to_the_assistants_question_is_a_new_request():
    assert CLF.label_one(turn("A", prev_assistant=ASKS)).label == "new_request"
    assert CLF.label_one(turn("sure, go with the sidebar", prev_assistant=ASKS)).label == "new_request"


def test_speaking_up_after_an_interrupt_redirects():
    t = turn("also utilize the siyuan plugin skill", prev_kind="interrupt", prev_assistant=None)
    lab = CLF.label_one(t)
    assert lab.label == "reattempt_with_feedback" and any("interrupting" in r for r in lab.reasons)
    # ...but not when the assistant has answered since (the feedback was the rejection reason itself)
    assert CLF.label_one(turn("perfect", prev_kind="tool_rejection", prev_assistant="Done, tests pass.")).label \
        == "positive_feedback"


def test_praise_with_a_request_is_not_positive_feedback():
    assert CLF.label_one(turn("that works")).label == "positive_feedback"
    assert CLF.label_one(turn("great, now add pagination to GET /invoices")).label == "new_request"
    assert CLF.label_one(turn("that worked, but check it.")).label != "positive_feedback"
    assert CLF.label_one(turn("arent we working on ies here though")).label != "positive_feedback"


def test_confidence_is_a_probability_that_grows_with_evidence():
    weak = CLF.label_one(turn("the intro could be tighter I guess, it should be shorter"))
    strong = CLF.label_one(turn("no, that's wrong. I told you to read the spec first. it still doesn't work"))
    assert strong.label == "reattempt_with_feedback"
    assert 0.5 <= weak.confidence < strong.confidence <= 1.0


def test_same_meaning_by_stored_embeddings_is_a_resend():
    """With the vault's sentence embeddings, a reworded re-send counts as the same request."""
    import numpy as np

    a = np.array([0.6, 0.8, 0.0])
    near = np.array([0.62, 0.78, 0.05])
    near /= np.linalg.norm(near)
    far = np.array([0.0, 0.0, 1.0])
    t = turn("make the export run again for EUR invoices", prev_typed="rerun the EUR invoice export")
    t.msg_id, t.prev_typed_id = "now", "before"
    assert HeuristicClassifier({"now": near, "before": a}).label_one(t).label == "reattempt_without_feedback"
    assert HeuristicClassifier({"now": far, "before": a}).label_one(t).label != "reattempt_without_feedback"
    assert HeuristicClassifier().label_one(t).label != "reattempt_without_feedback"


def _typo_fixed_reference(text):
    """_typo_fixed as first written: every praise word tried against every word (no pre-test)."""
    from miner.classify.heuristic import _PRAISE_WORDS

    words = text.split()
    if len(words) > 12:
        return text
    out = []
    for w in words:
        core = w.strip("!.,?").lower()
        fix = next((p for p in _PRAISE_WORDS if len(core) >= 4 and core != p and _one_edit(core, p)), None)
        out.append(fix if fix else w)
    return " ".join(out)


def test_typo_fix_pre_test_changes_nothing():
    """The first/last-letter pre-test of _typo_fixed only skips words that cannot be one edit away: every
    one-edit variant of every praise word (and words that are two edits away) is fixed exactly as before."""
    from miner.classify.heuristic import _PRAISE_WORDS

    letters = "aekrsw!"
    variants = set()
    for p in _PRAISE_WORDS:
        for i in range(len(p) + 1):
            for ch in letters:
                variants |= {p[:i] + ch + p[i:], p[:i] + ch + p[i + 1:]}  # insertion, substitution
            variants |= {p[:i] + p[i + 1:], p[:i] + p[i + 1:i + 2] + p[i:i + 1] + p[i + 2:]}  # deletion, swap
    variants |= {v[1:] + "x" for v in list(variants)}  # and further away
    text = " ".join(sorted(variants))
    for start in range(0, len(variants), 10):  # _typo_fixed works on short texts (12 words at most)
        chunk = " ".join(text.split()[start:start + 10])
        assert _typo_fixed(chunk) == _typo_fixed_reference(chunk), chunk


def test_lowered_cues_answer_as_the_case_insensitive_ones():
    """The fast path (regex without IGNORECASE on the text lowercased once) gives every cue's answer on
    mixed-case real and made-up lines, error_text included (its FAIL verdict stays case-sensitive)."""
    lines = ["IES backend is NOT available. Please ensure it's running on port 8081.", "It Still Doesn't Work",
             "Traceback (most recent call last):\n  File \"x.py\"", "FAILED tests/test_a.py::test_b", "failed to",
             "That's Not What I Asked For", "No, Use Postgres Instead", "WAIT", "Why Did You delete it?",
             "ERROR 2024-01-01 12:00 db down 3", "LGTM, Thanks!", "Continue", "Yes", "Revert That",
             "İstanbul is not the capital", "ſo it fails", "the test FAIL was expected", "Make ONE correction"]
    for text in lines:
        lower = text.lower()
        for cue in C.CORRECTION_CUES + C.ANSWER_CUES + (C.PRAISE, C.CONTINUE):
            assert cue.search_lowered(text, lower) == cue.search(text), (cue.name, text)
        assert C.error_text(text, lower) == C.ERROR_PASTE[0].search(text), text
        assert (C.CLAIMED_DONE_LOWERED.search(lower) is None) == (C.CLAIMED_DONE.search(text) is None)
        assert (C.ASKED_USER_LOWERED.search(lower) is None) == (C.ASKED_USER.search(text) is None)
    assert all(c.lowered is not None for c in C.CORRECTION_CUES)  # the fast path is taken for all of them
    assert C.lowered_pattern(r"\bFAIL\b") is None and C.lowered_pattern(r"(?-i:x)") is None
    assert C.lowered_pattern(r"\A\W*no\b") is not None  # escapes are not upper-case letters
