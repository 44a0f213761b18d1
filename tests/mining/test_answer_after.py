"""The `answer_after` field of the hand-label files (data/labels/README.md, "What the assistant said next"):
the head of the assistant's next answer after each labelled turn, read from the source at its commit.
"" means the assistant said nothing before the next human-side turn; an absent field means not read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from miner.classify.dataset import EXTERNAL_DIR, POINTERS_DIR, POINTERS_TEXT, read_external, read_pointers

# Outside the repository: the pointers-only files with their text (data/labels/README.md, "The fourth set").
HEAD_MAX = 600  # "up to ~600 characters", cut at a sentence or line end; the loader cuts there too
# Read, not a slip: before "Implement the plan." the Codex plan-mode answer's progress notes are in the
# export but its final plan is not, and the labeller left that turn's answer_before empty
# (data/labels/README.md, "What the assistant said next").
# The other way round: after teolhyn's request to run the diesel setup, the Claude Code copy shows only permission
# dialogs and one tool call (no prose), and the labeller kept that tool-call line as the next answer_before.
# And waderylan's agent-kept log (twenty-first set) stops logging the answers of information-only turns: the answer
# after the fourth line is in it, the one before the fifth (an unlogged answer it replies to) is not, left empty.
HEAD_WITHOUT_TAIL = {("external-emailbuddy.jsonl", "019c95d0", 0),
                     ("external-teolhyn-rs2026.jsonl", "osa-1", 2),
                     ("external-waderylan-prediction-market-agent.jsonl", "AI_TRANSCRIPT", 3)}

TEXT_FILES = sorted(EXTERNAL_DIR.glob("external-*.jsonl")) + \
    sorted((EXTERNAL_DIR / "not-in-model").glob("external-*.jsonl"))
POINTER_FILES = sorted(POINTERS_DIR.glob("external-*.jsonl"))


def pointer_files_with_text() -> list[Path]:
    """The pointers-only files whose text is on this machine: the folder is rebuilt by hand on each machine (a new
    one holds only the sets labelled there; data/labels/README.md, "The pointers' text read again")."""
    found = [p for p in POINTER_FILES if (POINTERS_TEXT / p.name).is_file()]
    if not found:
        pytest.skip(f"no pointers-only text in {POINTERS_TEXT} on this machine")
    return found


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def sessions(rs: list[dict]) -> list[tuple[dict, dict]]:
    """Consecutive turns of one session, in order."""
    rs = sorted(rs, key=lambda r: (str(r["session"]), int(r["n"])))
    return [(a, b) for a, b in zip(rs, rs[1:]) if a["session"] == b["session"]]


def test_answer_after_is_a_bounded_head_where_present():
    seen = 0
    for path in TEXT_FILES:
        for r in rows(path):
            if "answer_after" in r:
                seen += 1
                a = r["answer_after"]
                assert isinstance(a, str) and len(a) <= HEAD_MAX, (path.name, r["session"], r["n"], len(a))
                assert a == a.strip("\n"), (path.name, r["session"], r["n"])
    assert seen, "no label file has answer_after"


def test_the_answer_after_a_turn_is_the_answer_before_the_next_one():
    # Head and tail of the same answer: both empty (the assistant said nothing in between) or both not.
    # Catches a head copied one answer early or late.
    for path in TEXT_FILES:
        for a, b in sessions(rows(path)):
            if "answer_after" in a and (path.name, str(a["session"]), int(a["n"])) not in HEAD_WITHOUT_TAIL:
                assert (a["answer_after"] == "") == ((b.get("answer_before") or "") == ""), \
                    (path.name, a["session"], a["n"])


def test_pointer_files_keep_only_the_hash_and_length_of_the_answer_after():
    for path in POINTER_FILES:
        for r in rows(path):
            assert "answer_after" not in r, path.name
            if "answer_after_sha256" in r:
                assert len(r["answer_after_sha256"]) == 64 and isinstance(r["answer_after_chars"], int), path.name
                assert r["answer_after_chars"] <= HEAD_MAX
            else:
                assert "answer_after_chars" not in r, path.name


def test_pointer_hashes_match_the_text_kept_outside_the_repository():
    checked = 0
    for path in pointer_files_with_text():
        full = {(str(t["session"]), int(t["n"])): t for t in rows(POINTERS_TEXT / path.name)}
        for r in rows(path):
            if "answer_after_sha256" not in r:
                continue
            t = full[(str(r["session"]), int(r["n"]))]
            assert sha(t["answer_after"]) == r["answer_after_sha256"], (path.name, r["session"], r["n"])
            assert len(t["answer_after"]) == r["answer_after_chars"]
            checked += 1
        for a, b in sessions(list(full.values())):
            if "answer_after" in a and (path.name, str(a["session"]), int(a["n"])) not in HEAD_WITHOUT_TAIL:
                assert (a["answer_after"] == "") == ((b.get("answer_before") or "") == ""), \
                    (path.name, a["session"], a["n"])
    assert checked


def test_the_field_round_trips_through_the_label_loader():
    # miner.classify.dataset fills Turn.next_assistant from answer_after (None when absent, "" kept).
    loaded = {path: read_external(path) for path in TEXT_FILES}
    checked = 0
    for path, examples in loaded.items():
        by_key = {(str(r["session"]), int(r["n"])): r for r in rows(path)}
        for e in examples:
            r = by_key[(e.turn.session_id.split(":", 2)[2], int(e.turn.msg_id.rsplit(":", 1)[1]))]
            assert e.turn.next_assistant == r.get("answer_after"), (path.name, r["session"], r["n"])
            checked += 1
    assert checked


def test_files_with_the_field_still_load():
    # The loaders read every file that carries the new field (read_pointers checks the other hashes).
    for path in TEXT_FILES:
        if any("answer_after" in r for r in rows(path)):
            assert len(read_external(path)) == len(rows(path))
    if any((POINTERS_TEXT / p.name).is_file() for p in POINTER_FILES):
        for path in pointer_files_with_text():
            assert len(read_pointers(path, POINTERS_TEXT)) == len(rows(path))
