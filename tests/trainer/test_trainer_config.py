"""TrainConfig: CPU defaults, files (TOML/JSON), flag overrides."""

from __future__ import annotations

import json

import pytest

from trainer.config import ConfigError, TrainConfig, lora_target_modules


def test_defaults_run_on_a_cpu():
    c = TrainConfig()
    assert c.bf16 is False and c.gradient_checkpointing is False
    assert c.beta == 0.1 and c.lora_r == 8 and c.max_steps is None and c.epochs == 1.0


def test_toml_with_flag_names_and_train_table(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[train]\nlr = 1e-4\nsteps = 7\nlora-r = 4\nlora_targets = "q_proj, v_proj"\nbeta = 0.2\n')
    c = TrainConfig.load(f)
    assert (c.learning_rate, c.max_steps, c.lora_r, c.beta) == (1e-4, 7, 4, 0.2)
    assert c.lora_targets == ["q_proj", "v_proj"]


def test_json_and_flags_override_file(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"learning_rate": 1e-4, "seed": 3, "batch_size": 2}))
    c = TrainConfig.load(f).merged(lr=3e-4, seed=None, steps=5, lora_targets="all-linear")
    assert c.learning_rate == 3e-4  # flag wins
    assert c.seed == 3  # an unset flag (None) keeps the file's value
    assert c.batch_size == 2 and c.max_steps == 5
    assert lora_target_modules(c) == "all-linear"


def test_unknown_and_invalid_settings_are_refused(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("learning_rat = 1e-4\n")
    with pytest.raises(ConfigError, match=f"^{f}: learning_rat: unknown key$"):  # one line, naming the file
        TrainConfig.load(f)
    with pytest.raises(ConfigError, match="^beta: Input should be greater than 0"):
        TrainConfig().merged(beta=-1)
    with pytest.raises(ConfigError):
        TrainConfig.load(tmp_path / "c.yaml")


def test_round_trip_through_json(tmp_path):
    c = TrainConfig(data=tmp_path, out=tmp_path / "o", max_steps=3)
    f = tmp_path / "used.json"
    f.write_text(json.dumps(c.to_json()))
    assert TrainConfig.load(f) == c
