"""Trainer benchmark: step time of `vault train` against a bare TRL DPOTrainer script, same pairs.

    python bench/trainer_bench.py                        # real pairs mined from ../shared/corpora
    python bench/trainer_bench.py --data EXPORT_DIR      # any `vault export --format trl` folder
    python bench/trainer_bench.py --steps 6 --max-length 512 --batch-size 2

Measured in one process, one after the other, on the same pairs (the training split fitted into
max_length by trainer.fit, so both see identical token sequences), the same base model
(SmolLM2-135M-Instruct GGUF, a fresh copy per variant), the same LoRA, seed and batches:
- bare: the smallest TRL script (DPOConfig + DPOTrainer + LoraConfig), CPU settings only;
- vault: `vault train`'s own trainer (trainer.train.build_trainer), default settings;
- vault+precompute: reference log-probs computed once before training (its cost shown apart);
- vault+sorted: batches of pairs of similar length (group_by_length: trainer.fit.length_batches).
Each step's wall time and CPU time (the process's, so other people's jobs on the machine
count less) are recorded; the first step (warm-up) is left out of the medians.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPORA = ROOT.parent / "shared" / "corpora"


def export_real_pairs(dest: Path) -> Path:
    """`vault ingest` + `vault mine --no-embed` + `vault export --format trl` of the shared corpora."""
    from click.testing import CliRunner

    from vault.cli import cli

    if (dest / "export" / "train.jsonl").is_file():
        return dest / "export"
    dest.mkdir(parents=True, exist_ok=True)
    db = dest / "vault.duckdb"
    for args in (["ingest", str(CORPORA / "claude-code"), str(CORPORA / "conversations"), "--no-embed"],
                 ["mine", "--no-embed"],
                 ["export", "--format", "trl", "--out", str(dest / "export"), "--seed", "0", "--test-fraction", "0.3"]):
        res = CliRunner().invoke(cli, ["--db", str(db), *args])
        if res.exit_code != 0:
            raise SystemExit(f"vault {' '.join(args)} failed: {res.output[-400:]}")
    return dest / "export"


def step_timer():
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self):
            self.wall: list[float] = []
            self.cpu: list[float] = []

        def on_step_begin(self, args, state, control, **kw):
            self._t, self._c = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kw):
            self.wall.append(time.perf_counter() - self._t)
            self.cpu.append(time.process_time() - self._c)

    return Timer()


def bare_trl(model, tokenizer, fit, args, out, timer):
    """What a user would write from the TRL docs, with the CPU-necessary settings only."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    config = DPOConfig(output_dir=str(out), learning_rate=args.lr, per_device_train_batch_size=args.batch_size,
                       max_steps=args.steps, max_length=args.max_length, beta=0.1, seed=0, logging_steps=1,
                       bf16=False, gradient_checkpointing=False, save_strategy="no", report_to="none",
                       disable_tqdm=True)
    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                      task_type="CAUSAL_LM")
    rows = [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in fit.pairs]
    return DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                      peft_config=lora, callbacks=[timer])


def vault_trainer(model, tokenizer, fit, args, out, timer, **settings):
    """What `vault train` builds (trainer.train.run without the evaluations)."""
    from trainer.config import TrainConfig
    from trainer.train import build_trainer, check_same_tokens, training_order

    config = TrainConfig(learning_rate=args.lr, batch_size=args.batch_size, max_steps=args.steps,
                         max_length=args.max_length, seed=0, progress=False, **settings)
    order = training_order(config, fit)
    trainer = build_trainer(config, model, tokenizer, [f.pair for f in order], out, [timer])
    check_same_tokens(trainer, order)
    return trainer


VARIANTS = {
    "bare": lambda m, t, p, a, o, tm: bare_trl(m, t, p, a, o, tm),
    "vault": lambda m, t, p, a, o, tm: vault_trainer(m, t, p, a, o, tm),
    "vault+precompute": lambda m, t, p, a, o, tm: vault_trainer(m, t, p, a, o, tm, precompute_ref=True),
    "vault+sorted": lambda m, t, p, a, o, tm: vault_trainer(m, t, p, a, o, tm, group_by_length=True),
}


def padding_share(trainer) -> float:
    """Share of the token positions of the training batches that are padding."""
    pad = total = 0
    for batch in trainer.get_train_dataloader():
        mask = batch["attention_mask"]
        pad += int((mask == 0).sum())
        total += mask.numel()
    return round(pad / total, 3) if total else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a TRL export folder (default: real pairs mined from ../shared/corpora)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()

    import torch

    from trainer.data import load_pairs
    from trainer.fit import fit_split
    from trainer.model import load_base

    torch.set_num_threads(args.threads)
    data_dir = Path(args.data) if args.data else export_real_pairs(ROOT / "bench" / "data" / "trainer")
    data = load_pairs(data_dir)
    t = time.perf_counter()
    base, tokenizer = load_base()
    print(f"base model loaded in {time.perf_counter() - t:.1f} s")
    fit = fit_split(tokenizer, data.train, args.max_length, "train")
    pairs = fit.pairs
    s = fit.summary()
    print(f"pairs: {data_dir}: {s['n_kept']} of {s['n_in_split']} training pairs fit max_length {args.max_length} "
          f"({s['n_shortened']} with older turns cut, {s['n_excluded']} excluded); "
          f"{args.steps} steps of {args.batch_size} pairs, {args.threads} threads")

    results: dict[str, dict] = {}
    for name in args.variants.split(","):
        model = copy.deepcopy(base)
        timer = step_timer()
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            trainer = VARIANTS[name](model, tokenizer, fit, args, Path(tmp), timer)
            setup = time.perf_counter() - t
            trainer.train()
        wall, cpu = timer.wall[1:] or timer.wall, timer.cpu[1:] or timer.cpu
        results[name] = {"step_s": round(statistics.median(wall), 2), "step_cpu_s": round(statistics.median(cpu), 2),
                         "step_mean_s": round(statistics.mean(wall), 2), "setup_s": round(setup, 1),
                         "padding_share": padding_share(trainer), "steps": len(timer.wall)}
        print(f"{name:18} step {results[name]['step_s']:6.2f} s wall (median), {results[name]['step_cpu_s']:6.2f} s CPU, "
              f"mean {results[name]['step_mean_s']:.2f} s; setup {setup:.1f} s; padding "
              f"{results[name]['padding_share']:.0%}", flush=True)
        del trainer, model

    if "bare" in results:
        for name, r in results.items():
            r["ratio_vs_bare"] = round(r["step_s"] / results["bare"]["step_s"], 3)
            r["cpu_ratio_vs_bare"] = round(r["step_cpu_s"] / results["bare"]["step_cpu_s"], 3)
            print(f"{name:18} {r['ratio_vs_bare']:.2f}x bare (wall), {r['cpu_ratio_vs_bare']:.2f}x (CPU)")
    print(json.dumps({"data": str(data_dir), "pairs": len(pairs), "max_length": args.max_length,
                      "batch_size": args.batch_size, "threads": args.threads, "variants": results}))


if __name__ == "__main__":
    main()
