"""Fitting long pairs into max_length: what is kept, what is cut, what is excluded and reported.

Fast: the tiny random model and its tokenizer (trainer_fixtures). The same rule on real mined
pairs is tested in test_trainer_real_pairs.py.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from trainer_fixtures import QA, tiny_pairs, write_export

from trainer.cli import train as train_cmd
from trainer.fit import encode_pair, fit_pair, fit_split

# An agent-like history: a long pasted output and a run of tool-call lines, twice.
HISTORY = [
    {"role": "user", "content": "here is the log:\n" + " ".join(q for q, *_ in QA) * 3},
    {"role": "assistant", "content": "\n".join(f"[Bash] echo {a}" for _, a, *_ in QA) * 2},
] * 2


def with_history(pair: dict, history: list[dict] = HISTORY) -> dict:
    p = pair["prompt"]
    return {**pair, "prompt": [p[0], *history, p[-1]]}


def long_answer(pair: dict, times: int = 40) -> dict:
    """The chosen answer made too long for any max_length used here: cannot fit."""
    text = pair["chosen"][0]["content"]
    return {**pair, "chosen": [{"role": "assistant", "content": " ".join([text] * times)}]}


@pytest.fixture(scope="module")
def tok(tiny_base):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_base)


def test_short_pair_is_kept_as_it_is(tok):
    pair = tiny_pairs()[0][0]
    f = fit_pair(tok, pair, 128)
    assert f.pair == pair and not f.shortened and f.encoded == encode_pair(tok, pair)


def test_long_history_is_cut_but_persona_request_and_answers_are_kept(tok):
    pair = with_history(tiny_pairs()[0][0])
    full = encode_pair(tok, pair).length
    for max_length in (full - 1, full // 2, 100):
        f = fit_pair(tok, pair, max_length)
        assert f.pair is not None and f.shortened
        assert f.encoded == encode_pair(tok, f.pair) and f.encoded.length <= max_length < full
        prompt = f.pair["prompt"]
        assert prompt[0] == pair["prompt"][0] and prompt[-1] == pair["prompt"][-1]  # persona, request
        assert f.pair["chosen"] == pair["chosen"] and f.pair["rejected"] == pair["rejected"]
        assert len(prompt) == 2 or prompt[1]["role"] == "user"  # history never starts with an answer


def test_older_turns_are_summarised_before_any_is_dropped(tok):
    pair = with_history(tiny_pairs()[0][0])
    f = fit_pair(tok, pair, encode_pair(tok, pair).length - 1)
    assert f.summarised == 1 and f.dropped == 0  # the oldest turn, to one line
    assert "\n" not in f.pair["prompt"][1]["content"] and len(f.pair["prompt"][1]["content"]) <= 110
    assert f.pair["prompt"][2:] == pair["prompt"][2:]


def test_a_pair_that_cannot_fit_is_excluded_with_its_reason(tok):
    pair = long_answer(tiny_pairs()[0][0])
    f = fit_pair(tok, pair, 128)
    assert f.pair is None and f.encoded is None
    assert "max_length 128" in f.reason and "chosen" in f.reason
    split = fit_split(tok, [pair, tiny_pairs()[0][1]], 128, "test")
    assert split.summary() == {"n_in_split": 2, "n_kept": 1, "n_excluded": 1, "n_shortened": 0,
                               "excluded_share": 0.5}
    assert [x["pair_id"] for x in split.excluded] == [pair["pair_id"]]


TINY = "lr = 1e-2\nsteps = 4\nbatch_size = 2\nmax_length = 128\nthreads = 1\nseed = 0\n"


def test_run_on_long_pairs_scores_or_lists_every_pair_with_one_rule(tmp_path, tiny_base, tok):
    """Before: TRL dropped the long training pairs silently and the evaluation scored 1 of N."""
    train, test = tiny_pairs()
    train = [with_history(p) for p in train[:6]] + [long_answer(p) for p in train[6:]]
    test = [with_history(test[0]), long_answer(test[1]), *test[2:]]
    data = write_export(tmp_path / "export", train, test)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    res = CliRunner().invoke(train_cmd, ["--data", str(data), "--base", str(tiny_base), "--out", str(tmp_path / "o"),
                                         "--config", str(cfg)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())

    excluded = {p["pair_id"] for p in train[6:] + [test[1]]}
    assert {x["pair_id"] for x in m["excluded"]} == excluded
    assert all("max_length 128" in x["reason"] for x in m["excluded"])
    # the same rule on both splits: the training fit and the evaluations agree pair by pair
    assert m["fit"]["train"] == fit_split(tok, train, 128, "train").summary()
    assert m["fit"]["test"] == fit_split(tok, test, 128, "test").summary()
    assert m["fit"]["train"]["n_shortened"] == 6 and m["fit"]["train"]["n_excluded"] == 2
    for block, n_split in ((m["base"], 4), (m["after"], 4), (m["train"]["base"], 8), (m["train"]["after"], 8)):
        assert block["n_in_split"] == n_split and block["n"] + block["excluded"] == n_split
    assert m["base"]["n"] == 3 and m["train"]["after"]["n"] == 6

    # > 10% excluded: said loudly in the table and in the model card, with `n scored of n in split`
    assert "3 of 4" in res.output and "6 of 8" in res.output
    assert "WARNING: 2 of 8 train pairs (25%) and 1 of 4 test pairs (25%) EXCLUDED" in " ".join(res.output.split())
    card = (tmp_path / "o" / "README.md").read_text()
    assert "**WARNING: 2 of 8 train pairs" in card
    assert all(pid in card for pid in excluded)


def test_no_warning_when_few_are_excluded(tok):
    from trainer.fit import exclusion_warning

    s = {"train": {"n_in_split": 20, "n_excluded": 2, "excluded_share": 0.1}}
    assert exclusion_warning(s, 128) is None
    s["train"].update(n_excluded=3, excluded_share=0.15)
    assert "3 of 20 train pairs (15%) EXCLUDED" in exclusion_warning(s, 128)


def test_persona_ablation_compares_the_same_pairs_in_every_view(tiny_base, tok):
    """A pair that fits only once its persona is removed is left out of every view, not one."""
    from trainer.data import without_persona
    from trainer.evaluate import evaluate
    from trainer.model import load_base

    model, _ = load_base(tiny_base)
    test = tiny_pairs()[1]
    longest = max(test, key=lambda p: encode_pair(tok, p).length)
    max_length = encode_pair(tok, longest).length - 1
    assert encode_pair(tok, without_persona(longest)).length <= max_length  # fits without the persona only
    block = evaluate(model, tok, test, max_length=max_length, progress=False)
    abl = block["persona_ablation"]
    assert abl["n_with_persona"] == 4 and 0 < abl["n"] <= block["n"] < 4
    assert {abl[view]["n"] for view in ("with_persona", "without_persona", "other_persona")} == {abl["n"]}
