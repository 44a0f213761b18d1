"""The hand-labelled external turns kept in the repository (data/labels/external-*.jsonl): complete
provenance, valid labels, and turns rebuilt with the context the features read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import CORPORA, needs_shared

from miner.classify import features as F
from miner.classify.base import LABELS
from miner.classify.dataset import EXTERNAL_DIR, EXTERNAL_GLOB, authors_from_sources, read_external
from vault.model import Kind

FILES = sorted(EXTERNAL_DIR.glob(EXTERNAL_GLOB))


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_line_has_a_label_and_its_provenance():
    assert FILES, "no external label files"
    for path in FILES:
        for r in rows(path):
            assert r["label"] in LABELS, (path.name, r["n"], r["label"])
            assert r["kind"] in Kind.HUMAN_SIDE
            src = r["source"]
            assert src["repo"] == r["author"] and src["path"] and len(src["commit"]) == 40
            assert src["licence"].split()[0] in {"MIT", "Apache-2.0", "CC-BY-4.0", "DO"}, src["licence"]
            assert r["labeller"] == "vault-team" and r["labelled"]


@needs_shared
def test_no_external_author_is_already_in_the_shared_corpora():
    shared = set(authors_from_sources(CORPORA).values())
    assert shared, "SOURCES.md tables not read"
    assert not shared & {r["author"] for p in FILES for r in rows(p)}


def test_turns_are_rebuilt_in_session_order_with_their_context():
    examples = read_external(EXTERNAL_DIR / "external-my-webserver-setup.jsonl")
    by_n = {int(e.turn.msg_id.rsplit(":", 1)[1]): e for e in examples}
    first, failed_write = by_n[0], by_n[3]
    assert first.label == "initial_request" and first.turn.prev_assistant is None
    # "hey, there was an issue, the write to ... failed": after an answer of 2,100 characters whose edit failed
    t = failed_write.turn
    assert t.position == 3 and t.prev_assistant_error and len(t.prev_assistant) == 2100
    assert t.prev_assistant.endswith("explore other ways to handle authentication for this service.")
    assert t.prev_typed == by_n[2].turn.text and ("user", by_n[2].turn.text) in t.context
    # the turn typed right after a Ctrl-C: an interrupt before it, the assistant silent since
    after = by_n[15].turn
    assert after.prev_kind == Kind.INTERRUPT and after.prev_assistant is None
    v = dict(zip(F.NAMES, F.vector(after), strict=True))
    assert v["ctx:after_interrupt"] == 1.0 and v["ctx:after_interrupt_silent"] == 1.0
    assert F.vector(t)[F.NAMES.index("ctx:log_answer_chars")] == pytest.approx(7.65, abs=0.01)  # log1p(2100)


def test_a_bad_line_names_its_file_and_line(tmp_path):
    good = (EXTERNAL_DIR / "external-monochromatic.jsonl").read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "external-bad.jsonl"
    path.write_text(good + "\n" + json.dumps({"author": "a/b", "text": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"external-bad.jsonl:2: missing session, n, kind, label"):
        read_external(path)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"external-bad.jsonl:1: not JSON"):
        read_external(path)


def test_every_file_is_in_the_readme_table_with_its_counts():
    """data/labels/README.md lists each file with its turns and corrections: provenance a reader can check."""
    table = {}
    for line in (EXTERNAL_DIR / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("external-") and cells[0].endswith(".jsonl"):
            table[cells[0]] = (int(cells[-2]), int(cells[-1]))
    assert set(table) == {p.name for p in FILES}
    for path in FILES:
        labels = [r["label"] for r in rows(path)]
        assert table[path.name] == (len(labels), labels.count("reattempt_with_feedback")), path.name


KEPT_OUT = sorted((EXTERNAL_DIR / "not-in-model").glob(EXTERNAL_GLOB))
# The licences these files may carry (their text is kept in the repository); Unlicense is public domain,
# ISC is the permissive BSD-style licence (same grants as MIT).
KEPT_OUT_LICENCES = {"MIT", "Apache-2.0", "CC-BY-4.0", "Unlicense", "ISC"}


def test_kept_out_files_have_text_provenance_and_their_readme_counts():
    """not-in-model/ files (learned-8's people never saw them; since learned-9 the second part of the blend is fitted
    on them, train.SECOND_DIR): each line keeps its text and provenance, loads, and the README table states their
    counts."""
    assert KEPT_OUT, "no not-in-model label files"
    table = {}
    for line in (EXTERNAL_DIR / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("not-in-model/external-"):
            table[cells[0].removeprefix("not-in-model/")] = (int(cells[-2]), int(cells[-1]))
    assert set(table) == {p.name for p in KEPT_OUT}
    training_authors = {r["author"] for p in FILES for r in rows(p)}
    seen: dict[str, str] = {}
    for path in KEPT_OUT:
        lines = rows(path)
        for r in lines:
            assert r["label"] in LABELS and r["kind"] in Kind.HUMAN_SIDE, (path.name, r["n"])
            assert r["text"] or r["kind"] == Kind.INTERRUPT, (path.name, r["n"])
            src = r["source"]
            assert src["repo"] == r["author"] and src["path"] and len(src["commit"]) == 40
            assert src["licence"].split()[0] in KEPT_OUT_LICENCES, src["licence"]
        # one repository is one author, so one fold: never split across files or shared with training
        for author in {r["author"] for r in lines}:
            assert author not in training_authors and seen.setdefault(author, path.name) == path.name, author
        assert len(read_external(path)) == len(lines)
        labels = [r["label"] for r in lines]
        assert table[path.name] == (len(labels), labels.count("reattempt_with_feedback")), path.name


@needs_shared
def test_no_kept_out_author_is_in_the_shared_corpora():
    shared = set(authors_from_sources(CORPORA).values())
    assert not shared & {r["author"] for p in KEPT_OUT for r in rows(p)}


def test_label_file_finds_a_file_in_any_scored_folder_and_nowhere_else(tmp_path):
    from miner.classify.dataset import LABEL_FOLDERS, label_file

    for folder, name in zip(LABEL_FOLDERS, ("external-a.jsonl", "external-b.jsonl", "external-c.jsonl"), strict=True):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / name).write_text("", encoding="utf-8")
        assert label_file(name, tmp_path) == tmp_path / folder / name
    (tmp_path / "sealed21").mkdir()
    (tmp_path / "sealed21" / "external-d.jsonl").write_text("", encoding="utf-8")
    assert label_file("external-d.jsonl", tmp_path) is None  # a sealed folder is not one of them
    assert label_file("external-e.jsonl", tmp_path) is None
