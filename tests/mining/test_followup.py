"""The feature families of miner/classify/followup.py (report, handoff), each on real labelled lines
that the learned-3 features missed, and on real lines where it must stay silent."""

from __future__ import annotations

import pytest
from support import needs_shared

from miner.classify import features as F
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


def test_report_family_is_silent_without_a_report(ext):
    # A change asked to the delivered game ("can you make the paddles a bit bigger? ...") reports nothing.
    paddles = feats(ext["ext:Aider-AI/aider:pong:3"].turn)
    assert paddles["report:failure"] == paddles["report:observed"] == paddles["report:output"] == 0.0
    assert paddles["handoff:you_do"] == 0.0


def test_the_fast_handoff_search_finds_what_the_regex_finds(ext):
    """`_handoff` (one pattern per phrase, word boundary checked by hand) equals `_HANDOFF.search`."""
    from miner.classify.followup import ANSWER_TAIL, _HANDOFF, _handoff

    tails = [(e.turn.prev_assistant or "")[-ANSWER_TAIL:].lower() for e in ext.values()]
    tails += ["xmanually", "manually", "prun this", "prun this, then run this", "rerun it", "please tell me if",
              "you can runx", "_in your terminal", "(in your terminal)", "i cannot execute", "hi cannot execute", ""]
    found = [_HANDOFF.search(t) is not None for t in tails]
    assert [_handoff(t) for t in tails] == found
    assert 0 < sum(found) < len(found)


def test_revise_family_on_real_lines():
    """Restructuring what was just delivered, a standing instruction repeated, a critique of the code: the
    corrections of jayvdb/desynt and jake0x539's kind the cue words miss (data/labels/not-in-model/)."""
    folder = EXTERNAL_DIR / "not-in-model"
    by_text = {e.turn.text: e for name in ("desynt", "cross-modal-cognitive-mapping")
               for e in read_external(folder / f"external-{name}.jsonl")}
    moved = by_text["move the tests to new directory tests/"]
    assert moved.label == "reattempt_with_feedback"
    assert feats(moved.turn)["revise:restructure"] == 1.0 and feats(moved.turn)["revise:standing"] == 0.0
    rustup = by_text["Always use rustup to run Rust commands"]
    assert rustup.label == "reattempt_with_feedback" and feats(rustup.turn)["revise:standing"] == 1.0
    # a new request after the assistant's question ("Let's use the 7 billion chat"): silent
    qwen = feats(by_text["Let's use the 7 billion chat"].turn)
    assert qwen["revise:restructure"] == qwen["revise:standing"] == qwen["revise:critique"] == 0.0
