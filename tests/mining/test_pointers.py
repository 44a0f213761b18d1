"""pointers-only label files (judgements without their text) read back with text kept outside the repository,
each line checked against its SHA-256: how bench/miner_unseen.py scores those authors."""

from __future__ import annotations

import hashlib
import json

import pytest

from miner.classify.dataset import POINTERS_DIR, read_pointers


def sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


TEXTS = [("build the booking API", ""), ("this still returns 500", "I fixed the handler; it should work now.")]
LABELS = ["initial_request", "reattempt_with_feedback"]


def files(tmp_path, tamper: bool = False):
    base = {"author": "someone/repo", "session": "s", "kind": "human_prompt", "answer_chars": 0}
    pointers = [{**base, "n": n, "label": lab, "text_sha256": sha(t), "text_chars": len(t),
                 "answer_before_sha256": sha(a), "answer_before_chars": len(a)}
                for n, ((t, a), lab) in enumerate(zip(TEXTS, LABELS))]
    full = [{**base, "n": n, "label": lab, "text": t + (" (edited)" if tamper and n == 1 else ""),
             "answer_before": a} for n, ((t, a), lab) in enumerate(zip(TEXTS, LABELS))]
    (tmp_path / "ptr").mkdir()
    (tmp_path / "text").mkdir()
    write(tmp_path / "ptr" / "external-x.jsonl", pointers)
    write(tmp_path / "text" / "external-x.jsonl", full)
    return tmp_path / "ptr" / "external-x.jsonl", tmp_path / "text"


def test_pointers_are_rebuilt_with_their_text_and_context(tmp_path):
    ptr, text = files(tmp_path)
    ex = read_pointers(ptr, text)
    assert [e.label for e in ex] == LABELS and [e.turn.text for e in ex] == [t for t, _ in TEXTS]
    assert ex[1].turn.prev_typed == "build the booking API"
    assert ex[1].turn.prev_assistant.endswith("it should work now.")


def test_text_that_does_not_match_the_hash_is_refused_naming_file_and_line(tmp_path):
    ptr, text = files(tmp_path, tamper=True)
    with pytest.raises(ValueError, match=r"external-x\.jsonl:2: .*SHA-256"):
        read_pointers(ptr, text)
    with pytest.raises(ValueError, match="no text for it"):
        read_pointers(ptr, tmp_path)


def test_the_repository_keeps_no_text_in_pointer_files():
    for path in sorted(POINTERS_DIR.glob("external-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert "text" not in row and "answer_before" not in row and len(row["text_sha256"]) == 64, path.name


def test_a_tail_read_again_keeps_the_labellers_hash_and_length_beside_the_new_ones():
    # data/labels/README.md, "The pointers' text read again": a re-read field names its new text, and the
    # labeller's hash and length stay in the line (both or neither), different from the new hash.
    seen = 0
    for path in sorted(POINTERS_DIR.glob("external-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for field in ("text", "answer_before", "answer_after"):
                old, old_len = row.get(f"{field}_sha256_before"), row.get(f"{field}_chars_before")
                assert (old is None) == (old_len is None), (path.name, row["session"], row["n"], field)
                if old is not None:
                    seen += 1
                    assert len(old) == 64 and old != row[f"{field}_sha256"], (path.name, row["session"], row["n"])
                    assert isinstance(old_len, int) and isinstance(row[f"{field}_chars"], int)
    assert seen == 6, "data/labels/README.md lists six re-read answer_before values"
