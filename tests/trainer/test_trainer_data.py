"""The TRL export contract, the persona ablations and the metric definitions (no model needed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from trainer_fixtures import DETAILED, TERSE, tiny_pairs, write_export

from trainer.data import DataError, load_pairs, other_roles, role_personas, with_persona, without_persona
from trainer.evaluate import Scores, stats

ROOT = Path(__file__).resolve().parents[2]


def test_load_pairs_reads_splits_and_card(tiny_export):
    d = load_pairs(tiny_export)
    assert (len(d.train), len(d.test)) == (8, 4)
    assert d.card == tiny_export / "README.md" and d.card_title == "tiny persona pairs"
    assert set(d.fingerprint()) == {"train.jsonl", "test.jsonl", "README.md"}
    assert d.warnings == []


def test_invalid_pairs_are_reported_with_their_line(tmp_path):
    train, test = tiny_pairs()
    bad_persona = {**train[1], "persona": "someone else"}
    same = {**train[2], "rejected": train[2]["chosen"]}
    no_prompt = {k: v for k, v in train[3].items() if k != "prompt"}
    root = write_export(tmp_path / "x", [train[0], bad_persona, same, no_prompt], test)
    (root / "train.jsonl").write_text((root / "train.jsonl").read_text() + "{not json\n")
    with pytest.raises(DataError) as e:
        load_pairs(root)
    msg = str(e.value)
    for expected in ("train.jsonl:2: persona is set", "train.jsonl:3: chosen and rejected are identical",
                     "train.jsonl:4: missing prompt", "train.jsonl:5: not JSON"):
        assert expected in msg


def test_warnings_for_session_leak_and_missing_card(tmp_path):
    train, test = tiny_pairs()
    test[0] = {**test[0], "session_id": train[0]["session_id"]}
    d = load_pairs(write_export(tmp_path / "x", train, test, card=False))
    assert any("both train and test" in w for w in d.warnings)
    assert any("no README.md" in w for w in d.warnings)
    with pytest.raises(DataError, match="no train.jsonl"):
        load_pairs(tmp_path)


def test_persona_ablations_rewrite_only_the_leading_system_message():
    p = tiny_pairs()[0][0]
    bare = without_persona(p)
    assert bare["prompt"] == p["prompt"][1:] and bare["persona"] is None
    assert bare["chosen"] == p["chosen"] and bare["rejected"] == p["rejected"]
    swapped = with_persona(p, DETAILED)
    assert swapped["prompt"][0] == {"role": "system", "content": DETAILED} and swapped["prompt"][1:] == p["prompt"][1:]
    assert role_personas(tiny_pairs()[0]) == {"terse": TERSE, "detailed": DETAILED}
    assert other_roles({"terse": TERSE, "detailed": DETAILED}) == {"detailed": "terse", "terse": "detailed"}
    assert other_roles({"a": TERSE, "b": TERSE}) == {}


def test_metric_definitions():
    def scores(c, r):
        n = len(c)
        return Scores(np.array(["x"] * n, dtype=object), np.array(c, float), np.array(r, float),
                      np.full(n, 2), np.full(n, 4))

    base = scores([-10.0, -10.0, -30.0, -5.0], [-20.0, -5.0, -20.0, -5.0])
    s = stats(base)
    assert s["preference_accuracy"] == pytest.approx((1 + 0 + 0 + 0.5) / 4)  # ties count one half
    assert s["mean_margin"] == pytest.approx((10 - 5 - 10 + 0) / 4)
    assert s["reward_accuracy"] == 0.5 and s["reward_margin"] == 0.0  # no reference: the model is its own
    # per token: chosen has 2 tokens, rejected 4
    assert s["norm_accuracy"] == pytest.approx(np.mean([-5 > -5, -5 > -1.25, -15 > -5, -2.5 > -1.25]) + 0.5 / 4)
    after = scores([-8.0, -9.0, -31.0, -5.0], [-21.0, -5.0, -19.0, -5.0])
    r = stats(after, base, beta=0.5)
    # margins after: 13, -4, -12, 0; base margins: 10, -5, -10, 0 -> reward 0.5 * (3, 1, -2, 0)
    assert r["reward_accuracy"] == pytest.approx((1 + 1 + 0 + 0.5) / 4)
    assert r["reward_margin"] == pytest.approx(0.5 * (3 + 1 - 2 + 0) / 4)


def test_experiment_builder_writes_a_valid_export(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "persona_build_data", ROOT / "examples" / "persona_experiment" / "build_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    d = load_pairs(mod.build(tmp_path / "persona"))
    assert d.warnings == [] and d.card_title.startswith("vault persona experiment")
    assert len(d.train) == 48 and len(d.test) == 24
    test_q = {p["prompt"][-1]["content"] for p in d.test}
    assert not test_q & {p["prompt"][-1]["content"] for p in d.train}  # held-out questions
    for role in ("terse", "detailed"):
        assert sum(p["role_name"] == role for p in d.test) == 12
    # the same two answers form opposite pairs in the two roles
    by_q = {}
    for p in d.test:
        by_q.setdefault(p["prompt"][-1]["content"], {})[p["role_name"]] = p
    t, dd = next(iter(by_q.values()))["terse"], next(iter(by_q.values()))["detailed"]
    assert t["chosen"] == dd["rejected"] and t["rejected"] == dd["chosen"]
    assert json.loads((tmp_path / "persona" / "train.jsonl").read_text().splitlines()[0])["method"] == "correction"
