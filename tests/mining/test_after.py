"""The look-ahead (`after`) family: the assistant's next answer read into `Turn` from the vault and from label
files (`answer_after`), its features on real labelled lines, and a turn labelled before its answer existed
labelled again by the next `vault mine` once the answer has arrived."""

from __future__ import annotations

import dataclasses
import json

import pytest
from loop.mcp_support import write_session
from support import CORPORA, needs_shared

from miner.classify import after as AF
from miner.classify import features as F
from miner.classify.dataset import EXTERNAL_DIR, read_external


def feats(turn) -> dict[str, float]:
    return dict(zip(F.NAMES, F.vector(turn), strict=True))


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    from miner.classify.dataset import corpus_examples

    return {e.turn.msg_id: e for e in corpus_examples(CORPORA, tmp_path_factory.mktemp("dev"))}


@needs_shared
def test_acknowledged_mistake_in_the_next_answer(dev):
    # "honestly it would seem best if you look at the siyuan copilot ..." -> "You're right — let me look at ..."
    right = dev["brain_explore-58cc808c#73"]
    assert right.label == "reattempt_with_feedback" and right.turn.next_assistant.startswith("You're right")
    f = feats(right.turn)
    assert f["after:known"] == 1.0 and f["after:ack"] == 1.0 and f["after:silent"] == 0.0
    # "toolchain不用保留吧?" -> "你說得對，toolchain 不需要保留。" (traditional Chinese: "you're right")
    assert feats(dev["cde70d7e-125d-4aeb-8d16-75148f51b4a6"].turn)["after:ack"] == 1.0
    # "ok, now write the program ..." -> "I'll create a program that ...": something new, no acknowledgement
    new = feats(dev["98f9daab-60f6-47e5-9cb3-8d1a3309f9e9"].turn)
    assert new["after:new"] == 1.0 and new["after:ack"] == 0.0


@needs_shared
def test_redo_silence_and_unknown_from_the_vault(dev):
    # "did you consult meta.md after updating the .md doc?": the next answer edits IMPLEMENTATION.md again
    redo = dev["130a10a2-66d1-486d-bd62-15966c3fd6c4"].turn
    assert any(c.startswith("[Edit] ") for c in redo.next_calls) and feats(redo)["after:reedit"] == 1.0
    # A request sent three times in a row: the assistant said nothing in between (known, empty)
    silent = dev["trap-extraction-2025-11-25-f#18"].turn
    assert silent.next_assistant == "" and feats(silent)["after:silent"] == 1.0
    # The last turn of its session with nothing after it: unknown, every feature of the family at 0
    last = dev["b8163bdb-427f-4a7b-913e-cef751b25220"].turn
    assert last.next_assistant is None and last.next_calls is None
    assert AF.vector(last) == [0.0] * len(AF.NAMES)


def test_label_files_answer_after_absent_empty_and_given(tmp_path):
    line = json.loads((EXTERNAL_DIR / "external-afi-core.jsonl").read_text(encoding="utf-8").splitlines()[0])
    line.pop("answer_after", None)
    rows = [dict(line, n=0), dict(line, n=1, answer_after=""), dict(line, n=2, answer_after="You are right, my apologies.")]
    path = tmp_path / "external-x.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    absent, empty, given = (e.turn for e in read_external(path))
    assert absent.next_assistant is None and empty.next_assistant == "" and given.next_assistant.startswith("You")
    fa, fe, fg = AF.vector(absent), AF.vector(empty), AF.vector(given)
    assert fa != fe  # unknown is not "said nothing"
    assert dict(zip(AF.NAMES, fe))["after:silent"] == 1.0 and dict(zip(AF.NAMES, fg))["after:ack"] == 1.0
    assert given.next_calls is None  # label files hold the prose only


def test_a_turn_labelled_before_its_answer_is_labelled_again_once_it_arrives(tmp_path):
    from miner.mine import store_labels
    from miner.turns import load_turns
    from vault.ingest import ingest
    from vault.store import open_vault

    turns = [("user", "Write the detector"), ("assistant", "I wrote detector.py with unittest."),
             ("user", "No, use pytest")]
    path = write_session(tmp_path / "projects" / "billing", turns)
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [path])
    first, last = load_turns(con)
    assert first.next_assistant == "I wrote detector.py with unittest." and last.next_assistant is None
    store_labels(con, [(first.msg_id, first.session_id, "initial_request", 1.0, "learned", "t", "[]"),
                       (last.msg_id, last.session_id, "new_request", 0.6, "learned", "t", json.dumps([AF.AWAITING]))])
    assert load_turns(con, only_unlabelled=True) == []  # no answer yet: nothing to do
    write_session(tmp_path / "projects" / "billing", turns + [("assistant", "You're right, switching to pytest.")])
    ingest(con, [path])
    again = load_turns(con, only_unlabelled=True)
    assert [t.msg_id for t in again] == [last.msg_id]
    assert again[0].next_assistant == "You're right, switching to pytest."
    con.close()


@needs_shared
def test_the_fast_finders_equal_the_patterns_that_define_them(dev):
    """after.py's per-group search (literals first, word boundary by hand) finds what its defining regexes find."""
    heads = [e.turn.next_assistant for e in dev.values() if e.turn.next_assistant]
    heads += ["You're absolutely right!", "youre right", "Good catch — thanks", "好的你说得对", "Вы правы, извините",
              "Olet aivan oikeassa", "I'll fix that", "ill\tfix it", "the issue is", "a great idea", "spotter-right you",
              "Thanks for catching that", "my bad", "that was my mistake", "xyou're right", "_sorry", "Ah, I see",
              # the groups skipped on a head without Cyrillic or CJK (`_WIDE`), and the Latin ones never skipped
              "You’re correct — apologies", "Исправлю это", "хорошая идея", "好主意 — 修复", "olet oikeassa — kiitos",
              "Korjaan sen", "hyvä idea!", "¡Tienes razón!", "Du hast recht", "désolé", "é perdón", "修正しました"]
    for head in heads:
        lower = head[: AF.HEAD].lower()
        for groups, pattern in ((AF._ACK_GROUPS, AF._ACK), (AF._FIX_GROUPS, AF._FIX), (AF._AGREE_GROUPS, AF._AGREE)):
            assert AF._find(groups, lower) == (pattern.search(lower) is not None), (pattern.pattern[:30], head)
    wide = [AF._wide(h[: AF.HEAD].lower()) for h in heads]
    assert any(wide) and not all(wide)  # both paths taken


@needs_shared
def test_the_redo_lookup_equals_the_tool_line_patterns(dev):
    """`reedit` / `rerun` (one set of the answer's lines, a call looked up once) are what `_EDIT` / `_RUN` say: a target
    of the next answer's edit (run) calls that is a target of an edit (run) line of the answer before."""
    turns = [e.turn for e in dev.values() if e.turn.next_calls and e.turn.prev_assistant]
    # Made up: an edit of a file written before (asked twice), a command run before by another shell tool, a blank one
    turns.append(dataclasses.replace(turns[0], prev_assistant="x\n[Write] a/b.py\n[Bash]  ls\n[shell] pytest -q",
                                     next_calls=["[Edit] a/b.py", "[Edit] a/b.py", "[Bash] pytest -q", "[Bash]  ls"]))
    seen = [0, 0]
    for t in turns:
        calls = "\n".join(t.next_calls)
        want = [bool(set(p.findall(calls)) & set(p.findall(t.prev_assistant))) for p in (AF._EDIT, AF._RUN)]
        got = dict(zip(AF.NAMES, AF.vector(t), strict=True))
        assert [got["after:reedit"], got["after:rerun"]] == [float(w) for w in want], t.msg_id
        seen = [a + b for a, b in zip(seen, want, strict=True)]
    assert all(seen) and seen[0] < len(turns)  # each fires on some turns, not on all
