"""The feature families of miner/classify/followup.py (restate, report, handoff, change), each on real
labelled lines that the learned-3 features missed, and on real lines where it must stay silent."""

from __future__ import annotations

import pytest
from support import needs_shared

from miner.classify import features as F
from miner.classify import followup as FU
from miner.classify.dataset import EXTERNAL_DIR, read_external


def feats(turn) -> dict[str, float]:
    return dict(zip(F.NAMES, F.vector(turn), strict=True))


@pytest.fixture(scope="module")
def ext():
    """The repository's external labelled turns, by msg_id (no shared corpora needed)."""
    return {e.turn.msg_id: e for p in sorted(EXTERNAL_DIR.glob("external-*.jsonl")) for e in read_external(p)}


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    from miner.classify.dataset import corpus_examples
    from support import CORPORA

    return {e.turn.msg_id: e for e in corpus_examples(CORPORA, tmp_path_factory.mktemp("dev"))}


def test_content_words_and_cover_are_plain_word_sets():
    words = FU.content_words("the presets should display the input/output costs per million")
    assert words == {"presets", "display", "input", "output", "costs", "per", "million"}
    assert FU.cover({"presets", "display", "costs"}, {"presets", "costs", "buttons"}) == pytest.approx(2 / 3)
    assert FU.cover({"presets", "costs"}, {"presets", "costs"}) == 0.0  # too few words to say anything


def test_restate_family_on_real_lines(ext):
    # The whole audit prompt sent again with more after the assistant's answer: a modified restatement.
    again = feats(ext["ext:AFI-Protocol/afi-core:2025-08-04T13:59:12:1"].turn)
    assert again["restate:prev_cover"] == 1.0 and again["restate:modified"] == 1.0
    assert again["ctx:resend"] == 0.0  # not a near-verbatim re-send
    first = feats(ext["ext:AFI-Protocol/afi-core:2025-08-04T13:59:12:0"].turn)
    assert first["restate:prev_cover"] == 0.0 and first["restate:modified"] == 0.0


def test_report_family_on_real_lines(ext):
    # "well, now I get a 401 unauthorized ..." after the assistant's "reload the Nginx configuration"
    now = feats(ext["ext:151henry151/my-webserver-setup:2025-05-10T15:17:26:5"].turn)
    assert now["report:observed"] == 1.0 and now["report:failure"] == 1.0
    assert now["ctx:claimed_done"] == 1.0 and now["report:claimed_x_report"] == 1.0
    assert now["cue:count"] == 0.0  # no cue word of cues.py: what this family is for


@needs_shared
def test_report_family_on_wild_dev_lines(dev):
    logread = feats(dev["2b4b218c-fd9e-44fe-b45d-d2250252ff44"].turn)  # "logread not working"
    assert logread["report:failure"] == 1.0 and logread["report:claimed_x_report"] == 1.0
    # failing ssh output pasted after "You can now SSH into slate by running: ..."
    pasted = feats(dev["36971bd1-2352-45e3-996d-b67c1665ea00"].turn)
    assert pasted["report:output"] == 1.0 and pasted["report:claimed_x_report"] == 1.0
    praise = feats(dev["brain_explore-58cc808c#522"].turn)  # "that works"
    assert praise["report:failure"] == praise["report:observed"] == praise["report:output"] == 0.0


@needs_shared
def test_handoff_family_on_wild_dev_lines(dev):
    # "you run it" after "Run that and let me know: 1. Did it prompt for YubiKey PIN ...?"
    run = feats(dev["c71e8500-89e0-40fd-b50d-d2404a30b024"].turn)
    assert run["handoff:answer"] == 1.0 and run["handoff:you_do"] == 1.0 and run["handoff:pushback"] == 1.0
    # "why won't you run it?" after "I won't execute that command myself, but you're welcome to run it"
    why = feats(dev["8e8b39c0-fde1-4a58-abf2-a44e1cb0f89c"].turn)
    assert why["handoff:pushback"] == 1.0
    thanks = feats(dev["2e38973c-cb21-4d4d-be4f-b93dd59145bd"].turn)  # "Thanks! Please update CLAUDE.md ..."
    assert thanks["handoff:you_do"] == 0.0 and thanks["handoff:pushback"] == 0.0


def test_change_family_on_real_lines(ext):
    pong = feats(ext["ext:Aider-AI/aider:pong:2"].turn)  # "nice, it works. but the ball moves way too fast."
    assert pong["change:praise_but"] == 1.0 and pong["change:adjust"] == 1.0
    assert pong["cue:praise_only"] == 0.0


@needs_shared
def test_change_family_on_wild_dev_lines(dev):
    cents = feats(dev["dfa84b16-6f6a-4b12-a0bd-6f9e6e72c099"].turn)  # "Cents and dollars should both be shown ..."
    assert cents["change:modal"] == 1.0
    # "The Gemini 1.5 Flash and Gemini 1.5 Flash-8B models both have >128,000 prices too", about the presets
    # the answer just listed: something pointed out as missing from what was delivered.
    too = feats(dev["963fbfff-2bf9-4da7-9934-657f3b299111"].turn)
    assert too["change:also_missing"] == 1.0 and too["restate:answer_cover"] >= 0.3 and too["change:about_answer"] == 1.0
    question = feats(dev["d8bf9a5d-3aa6-43bd-9913-a5925e054315"].turn)  # "what about traceablity ...? do either ...?"
    assert question["change:modal"] == 0.0
