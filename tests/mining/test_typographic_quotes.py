"""Typographic quotes ("don’t", "You’re right", as phones, macOS and chat apps type them) read as the ASCII ones the cue
patterns are written with (cues.plain); on the repository's own licensed label files (no shared corpora needed)."""

from __future__ import annotations

import dataclasses

import pytest

from miner.classify import cues as C
from miner.classify import features as F
from miner.classify.dataset import EXTERNAL_DIR, external_examples
from miner.classify.heuristic import HeuristicClassifier

QUOTES = "\u2019\u2018\u02bc\u201c\u201d"


def _ascii(text: str | None) -> str | None:
    if text is None:
        return None
    for q, a in zip(QUOTES, "'''\"\"", strict=True):
        text = text.replace(q, a)
    return text


@pytest.fixture(scope="module")
def typographic():
    """The licensed labelled turns with a typographic quote in the turn or the answers around it."""
    ex = external_examples() + external_examples(EXTERNAL_DIR / "not-in-model")
    fields = ("text", "prev_assistant", "next_assistant")
    return [e for e in ex if any(q in (getattr(e.turn, f) or "") for f in fields for q in QUOTES)]


def test_plain_maps_the_quotes_and_keeps_offsets():
    assert C.plain("I don\u2019t want \u201cthat\u201d") == "I don't want \"that\""
    assert len(C.plain("\u2018a\u2019 \u02bcb")) == len("\u2018a\u2019 \u02bcb")
    text = "plain ascii: don't"
    assert C.plain(text) is text  # ASCII text is not copied
    assert C.plain("caf\u00e9 \u2013 ok") == "caf\u00e9 \u2013 ok"  # other characters stay


def test_features_and_heuristic_read_typographic_quotes_as_ascii(typographic):
    assert len(typographic) >= 100  # ChatGPT / Claude.ai answers use them: real turns exercise this
    heuristic = HeuristicClassifier()
    changed = 0
    for e in typographic:
        t = e.turn
        a = dataclasses.replace(t, text=_ascii(t.text), prev_assistant=_ascii(t.prev_assistant),
                                next_assistant=_ascii(t.next_assistant))
        assert F.vector(t) == F.vector(a), (e.file, e.turn.msg_id)
        assert heuristic.label_one(t) == heuristic.label_one(a), (e.file, e.turn.msg_id)
        changed += t.text != a.text
    assert changed >= 20


def test_a_typed_cant_is_a_negation(typographic):
    # a pasted AppleScript error ("Can’t get ...") after an answer: the negation column fired only on "Can't"
    negation = F.NAMES.index("shape:negation")
    hits = [e for e in typographic if "Can\u2019t get" in e.turn.text]
    assert hits
    assert all(F.vector(e.turn)[negation] == 1.0 for e in hits)
