"""Fast end-to-end tests on a tiny random Llama with a locally trained tokenizer (seconds, CPU)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from trainer_fixtures import tiny_pairs

from trainer.cli import train as train_cmd
from trainer.config import TrainConfig
from trainer.data import load_pairs
from trainer.evaluate import check_template
from trainer.model import load_base
from trainer.train import TemplateError, run

# A tiny random model needs a large learning rate to move in a few steps.
TINY = "lr = 1e-2\nsteps = 30\nbatch_size = 4\nmax_length = 128\nthreads = 1\nseed = 0\n"


def invoke(*args: str):
    res = CliRunner().invoke(train_cmd, list(args), catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_base):
    from trainer_fixtures import write_export

    root = tmp_path_factory.mktemp("run")
    data = write_export(root / "export", *tiny_pairs())
    cfg = root / "tiny.toml"
    cfg.write_text(TINY)
    out = root / "out"
    code, stdout, _ = invoke("--data", str(data), "--base", str(tiny_base), "--out", str(out),
                             "--config", str(cfg), "--json")
    assert code == 0
    return data, out, json.loads(stdout)


def test_training_raises_preference_accuracy_on_training_pairs(trained):
    _, _, m = trained
    before, after = m["train"]["base"], m["train"]["after"]
    assert after["n"] == before["n"] == 8
    assert after["preference_accuracy"] > before["preference_accuracy"]
    assert after["mean_margin"] > before["mean_margin"]
    assert before["reward_accuracy"] == 0.5 and after["reward_accuracy"] >= 0.75
    assert m["steps"] == 30 and m["time_per_step_s"] > 0


def test_outputs_written(trained):
    data, out, m = trained
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["after"] == m["after"]
    for block in ("base", "after"):
        abl = saved[block]["persona_ablation"]
        assert set(abl) >= {"with_persona", "without_persona", "other_persona", "by_role"}
        assert abl["without_persona"]["n"] == 4 and set(abl["by_role"]) == {"terse", "detailed"}
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((out / "config.json").read_text())["learning_rate"] == 1e-2
    card = (out / "README.md").read_text()
    assert str(data / "README.md") in card and "tiny persona pairs" in card  # names the dataset card
    assert (out / "training.png").stat().st_size > 1000
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())


def test_eval_only_reproduces_the_after_figures(trained, tiny_base):
    data, out, m = trained
    code, stdout, _ = invoke("--eval-only", "--data", str(data), "--base", str(tiny_base), "--out", str(out),
                             "--beta", "0.1", "--max-length", "128", "--json")
    assert code == 0
    e = json.loads(stdout)
    assert e["adapter"] == str(out / "adapter")
    assert e["after"]["preference_accuracy"] == m["after"]["preference_accuracy"]
    assert e["after"]["mean_margin"] == pytest.approx(m["after"]["mean_margin"], abs=1e-3)
    assert e["base"]["mean_margin"] == pytest.approx(m["base"]["mean_margin"], abs=1e-3)
    # the training record is kept; the evaluation goes beside it
    assert json.loads((out / "metrics.json").read_text())["steps"] == 30
    assert (out / "eval_metrics.json").is_file()


def test_table_output(trained):
    data, out, _ = trained
    # no --base: the adapter's own base_model_name_or_path (the tiny model's folder) is used
    code, stdout, _ = invoke("--eval-only", "--data", str(data), "--adapter", str(out / "adapter"),
                             "--max-length", "128")
    assert code == 0
    assert "preference accuracy" in stdout and "persona ablation" in stdout and "without persona" in stdout


def test_dry_run_validates_and_times_a_step(tiny_export, tiny_base):
    code, stdout, _ = invoke("--dry-run", "--data", str(tiny_export), "--base", str(tiny_base),
                             "--max-length", "128", "--steps", "10", "--json")
    assert code == 0
    r = json.loads(stdout)
    assert r["ok"] and r["problems"] == [] and r["n_train"] == 8
    assert r["time_per_step_s"] > 0 and r["planned_steps"] == 10
    assert r["estimated_train_s"] == pytest.approx(10 * r["time_per_step_s"], rel=0.01)


def test_dry_run_catches_a_broken_chat_template(tiny_export, broken_base):
    code, stdout, stderr = invoke("--dry-run", "--data", str(tiny_export), "--base", str(broken_base))
    assert code == 1
    assert "BROKEN" in stdout and "not a prefix of prompt+completion" in stderr


def test_training_refuses_a_broken_chat_template(tiny_export, broken_base, tmp_path):
    with pytest.raises(TemplateError, match="not a prefix"):
        run(TrainConfig(data=tiny_export, base=str(broken_base), out=tmp_path / "o", max_steps=1))


def test_good_template_passes_the_prefix_check(tiny_export, tiny_base):
    _, tok = load_base(tiny_base)
    d = load_pairs(tiny_export)
    assert check_template(tok, d.train + d.test) == []


def test_cli_errors_are_messages_not_tracebacks(tmp_path, tiny_base):
    code, _, stderr = invoke("--data", str(tmp_path), "--base", str(tiny_base), "--out", str(tmp_path / "o"))
    assert code == 1 and "no train.jsonl" in stderr


def test_eval_only_without_an_adapter_scores_the_base(tiny_export, tiny_base):
    code, stdout, _ = invoke("--eval-only", "--data", str(tiny_export), "--base", str(tiny_base), "--json")
    assert code == 0
    r = json.loads(stdout)
    assert r["adapter"] is None and "after" not in r
    assert r["base"]["n"] == 4 and r["base"]["reward_accuracy"] == 0.5
