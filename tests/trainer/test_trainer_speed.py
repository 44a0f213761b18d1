"""The CPU speed settings (precompute_ref, group_by_length) on the tiny model: they do what they say.

Their step times are measured in bench/trainer_bench.py, never here.
"""

from __future__ import annotations

import pytest
from test_trainer_fit import with_history
from trainer_fixtures import tiny_pairs

from trainer.config import TrainConfig
from trainer.evaluate import score_pairs
from trainer.fit import encode_pair, fit_split
from trainer.model import load_base
from trainer.train import build_trainer, check_same_tokens, training_order


@pytest.fixture
def model_tok(tiny_base):
    return load_base(tiny_base)


def _config(**kw) -> TrainConfig:
    return TrainConfig(learning_rate=1e-2, batch_size=2, max_steps=2, max_length=512, seed=0, progress=False, **kw)


def test_precomputed_reference_equals_the_evaluation_of_the_base(model_tok, tmp_path):
    model, tok = model_tok
    pairs = tiny_pairs()[0]
    base = score_pairs(model, tok, pairs, max_length=512, progress=False)
    trainer = build_trainer(_config(precompute_ref=True), model, tok, pairs, tmp_path)
    ds = trainer.train_dataset
    assert ds["ref_chosen_logps"] == pytest.approx(list(base.chosen), abs=1e-3)
    assert ds["ref_rejected_logps"] == pytest.approx(list(base.rejected), abs=1e-3)
    trainer.train()
    assert trainer.state.global_step == 2


def test_sorted_batches_group_pairs_of_similar_length(model_tok, tmp_path):
    model, tok = model_tok
    train = tiny_pairs()[0]
    pairs = [with_history(p) if i % 2 else p for i, p in enumerate(train)]  # long and short, interleaved
    fit = fit_split(tok, pairs, 512, "train")
    assert fit.summary()["n_excluded"] == 0
    config = _config(group_by_length=True)
    order = training_order(config, fit)
    trainer = build_trainer(config, model, tok, [f.pair for f in order], tmp_path)
    check_same_tokens(trainer, order)
    long_ids = {p["pair_id"] for i, p in enumerate(train) if i % 2}
    lengths = {p["pair_id"]: encode_pair(tok, p).length for p in fit.pairs}
    ids = [order[i].pair_id for i in trainer._get_train_sampler()]
    batches = [ids[i : i + 2] for i in range(0, len(ids), 2)]
    assert sorted(map(len, batches)) == [2, 2, 2, 2]
    assert all(len({pid in long_ids for pid in b}) == 1 for b in batches), (batches, lengths)
    trainer.train()
    assert trainer.state.global_step == 2
