"""The three jobs of `vault train`: train (run), validate (dry_run) and evaluate (eval_only)."""

from __future__ import annotations

import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path

from . import report
from .config import ConfigError, TrainConfig, lora_target_modules
from .data import PairData, load_pairs
from .evaluate import check_template, evaluate
from .fit import Fitted, SplitFit, exclusion_warning, fit_split, length_batches
from .model import default_base, load_base


class TemplateError(ValueError):
    pass


def resolve(config: TrainConfig, *, need_out: bool = True) -> TrainConfig:
    if config.data is None:
        raise ConfigError("no data folder: pass --data DIR (a `vault export --format trl` folder)")
    if need_out and config.out is None:
        raise ConfigError("no output folder: pass --out DIR")
    if config.base is None:
        config = config.merged(base=str(default_base()))
    return config


def _setup(config: TrainConfig):
    import torch

    if config.threads:
        torch.set_num_threads(config.threads)
    data = load_pairs(config.data)
    model, tokenizer = load_base(config.base)
    return data, model, tokenizer


def fit_data(config: TrainConfig, data: PairData, tokenizer) -> dict[str, SplitFit]:
    """Both splits fitted into max_length by the one rule (fit.py) training and evaluation share."""
    return {name: fit_split(tokenizer, pairs, config.max_length, name)
            for name, pairs in (("train", data.train), ("test", data.test))}


def fit_report(config: TrainConfig, fits: dict[str, SplitFit]) -> dict:
    """metrics.json's record of the fitting: per-split counts, every excluded pair, the warning."""
    summaries = {name: f.summary() for name, f in fits.items()}
    return {"fit": {"max_length": config.max_length, **summaries},
            "excluded": [x for f in fits.values() for x in f.excluded],
            "exclusion_warning": exclusion_warning(summaries, config.max_length)}


def _eval_kw(config: TrainConfig) -> dict:
    return {"beta": config.beta, "max_length": config.max_length, "batch_size": config.eval_batch_size,
            "progress": config.progress}


def build_trainer(config: TrainConfig, model, tokenizer, pairs: list[dict], output_dir: Path, callbacks=()):
    """TRL DPOTrainer with a fresh LoRA adapter; the reference is the base with the adapter off."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        output_dir=str(output_dir),
        beta=config.beta,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        max_steps=config.max_steps or -1,
        num_train_epochs=config.epochs,
        max_length=config.max_length,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        seed=config.seed,
        logging_steps=config.logging_steps,
        # TRL defaults to bf16 and gradient checkpointing; both are wrong for a CPU.
        bf16=config.bf16,
        **_checkpointing(DPOConfig, config.gradient_checkpointing),
        dataloader_pin_memory=torch.cuda.is_available(),
        save_strategy="no",  # the adapter is saved once, at the end, by run()
        report_to="none",
        disable_tqdm=not config.progress,
        dataloader_num_workers=0,
        precompute_ref_log_probs=config.precompute_ref,
        **_length_grouping(config.group_by_length),
    )
    peft_config = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                             target_modules=lora_target_modules(config), task_type="CAUSAL_LM")
    rows = [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs]
    return DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                      peft_config=peft_config, callbacks=list(callbacks))


def _length_grouping(on: bool) -> dict:
    # The pairs come already in length batches (fit.length_batches): keep their order.
    return {"train_sampling_strategy": "sequential"} if on else {}


def training_order(config: TrainConfig, fit: SplitFit) -> list[Fitted]:
    """The fitted training pairs in the order the trainer gets them."""
    kept = [f for f in fit.fitted if f.pair is not None]
    return length_batches(kept, config.batch_size, config.seed) if config.group_by_length else kept


def check_same_tokens(trainer, fitted: list[Fitted]) -> None:
    """TRL's tokenised training set must be our fitted pairs, token for token, none dropped."""
    ds = trainer.train_dataset
    if len(ds) != len(fitted):
        raise TemplateError(f"TRL kept {len(ds)} of the {len(fitted)} fitted training pairs")
    for row, f in zip(ds, fitted):
        e = f.encoded
        if (row["prompt_ids"], row["chosen_ids"], row["rejected_ids"]) != (e.prompt, e.chosen, e.rejected):
            raise TemplateError(f"pair {f.pair_id}: TRL tokenises it differently from the evaluation")


def _checkpointing(cls, on: bool) -> dict:
    # transformers 5 renamed gradient_checkpointing to activation_checkpointing (old name warns).
    new = "activation_checkpointing" in cls.__dataclass_fields__
    return {"activation_checkpointing" if new else "gradient_checkpointing": on}


def _step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_step_begin(self, args, state, control, **kw):
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.times.append(time.perf_counter() - self._t)

        def per_step(self) -> float | None:
            # The first step pays one-off costs (allocations, lazy init); leave it out when we can.
            t = self.times[1:] or self.times
            return statistics.median(t) if t else None

    return StepTimer()


def run(config: TrainConfig) -> dict:
    """Evaluate the base, train a LoRA adapter with DPO, evaluate again, write everything to out."""
    from accelerate import PartialState

    config = resolve(config)
    data, model, tokenizer = _setup(config)
    problems = check_template(tokenizer, data.train + data.test)
    if problems:
        raise TemplateError("chat template check failed:\n  " + "\n  ".join(problems[:10]))
    fits = fit_data(config, data, tokenizer)
    order = training_order(config, fits["train"])
    if not order:
        raise ConfigError(f"no training pair fits max_length {config.max_length}: "
                          f"{fits['train'].excluded[0]['reason']} (raise --max-length)")
    out = Path(config.out)
    state = PartialState()
    main = state.is_main_process  # under `accelerate launch`, one process evaluates and writes
    kw = _eval_kw(config)

    base, base_scores, train_base, train_scores = None, None, None, None
    if main:
        model.to(state.device)
        base, base_scores = evaluate(model, tokenizer, data.test, desc="base: test", return_scores=True, **kw)
        if config.eval_train:
            train_base, train_scores = evaluate(model, tokenizer, data.train, ablation=False,
                                                desc="base: train", return_scores=True, **kw)
    state.wait_for_everyone()

    timer = _step_timer()
    trainer = build_trainer(config, model, tokenizer, [f.pair for f in order], out / "checkpoints", [timer])
    check_same_tokens(trainer, order)
    result = trainer.train()
    policy = trainer.accelerator.unwrap_model(trainer.model)

    metrics: dict = {}
    if main:
        metrics = {
            "base": base,
            "after": evaluate(policy, tokenizer, data.test, ref_scores=base_scores, desc="after: test", **kw),
            "steps": int(trainer.state.global_step),
            "time_per_step_s": timer.per_step(),
            "train_runtime_s": float(result.metrics.get("train_runtime", 0.0)),
            "time_per_step_mean_s": result.metrics.get("train_runtime", 0.0) / max(1, trainer.state.global_step),
            "final_train_loss": float(result.training_loss),
        }
        if config.eval_train:
            after_train = evaluate(policy, tokenizer, data.train, ablation=False, ref_scores=train_scores,
                                   desc="after: train", **kw)
            metrics["train"] = {"base": train_base, "after": after_train}
        metrics.update(_provenance(config, data))
        metrics.update(fit_report(config, fits))
        _write_outputs(out, config, data, metrics, policy, tokenizer, trainer.state.log_history)
        with contextlib.suppress(OSError):
            (out / "checkpoints").rmdir()  # the Trainer's output_dir: empty, as nothing is checkpointed
    state.wait_for_everyone()
    return metrics


def _provenance(config: TrainConfig, data: PairData) -> dict:
    return {"data": str(config.data), "dataset_card": str(data.card) if data.card else None,
            "dataset_card_title": data.card_title, "base_model": config.base,
            "n_train": len(data.train), "n_test": len(data.test), "beta": config.beta}


def _write_outputs(out: Path, config, data, metrics, policy, tokenizer, log_history) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # The vocabulary is never resized, so embeddings need no copy (and a GGUF base has no config to check).
    policy.save_pretrained(out / "adapter", save_embedding_layers=False)
    tokenizer.save_pretrained(out / "adapter")  # eval-only and inference need the same template
    report.write_json(out / "config.json", config.to_json())
    report.write_json(out / "metrics.json", metrics)
    report.write_json(out / "log_history.json", log_history)
    (out / "README.md").write_text(report.model_card(metrics, config.to_json(), data))
    report.plot(log_history, out / "training.png")


def dry_run(config: TrainConfig) -> dict:
    """Validate the dataset and the chat template, and time one DPO step, without training."""
    config = resolve(config, need_out=False)
    data, model, tokenizer = _setup(config)
    pairs = data.train + data.test
    problems = check_template(tokenizer, pairs)
    fits = fit_data(config, data, tokenizer)
    fitted = [f for split in fits.values() for f in split.fitted]
    lengths = [f.tokens for f in fitted]
    report_fit = fit_report(config, fits)
    if not fits["train"].pairs:
        raise ConfigError(f"no training pair fits max_length {config.max_length}: "
                          f"{fits['train'].excluded[0]['reason']} (raise --max-length)")
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(config.merged(max_steps=1, progress=False), model, tokenizer,
                                [f.pair for f in training_order(config, fits["train"])], Path(tmp))
        per_step = _time_step(trainer, config.grad_accum)
    steps = config.max_steps or _epoch_steps(len(fits["train"].pairs), config) * config.epochs
    shortened = sum(f.shortened for f in fitted if f.pair is not None)
    notes = ([f"{shortened} pair(s) longer than max_length {config.max_length}: older turns cut to fit"]
             if shortened else [])
    notes += [f"excluded {x['split']} pair {x['pair_id']}: {x['reason']}" for x in report_fit["excluded"]]
    return {
        "ok": not problems,
        "problems": problems,
        "warnings": data.warnings + notes + ([report_fit["exclusion_warning"]]
                                             if report_fit["exclusion_warning"] else []),
        **report_fit,
        "n_train": len(data.train),
        "n_test": len(data.test),
        "dataset_card": str(data.card) if data.card else None,
        "tokens_max": max(lengths, default=0),
        "tokens_mean": round(statistics.mean(lengths), 1) if lengths else 0,
        "time_per_step_s": per_step,
        "planned_steps": int(steps),
        "estimated_train_s": round(per_step * steps, 3),
    }


def _epoch_steps(n: int, config: TrainConfig) -> int:
    return max(1, -(-n // (config.batch_size * config.grad_accum)))


def _time_step(trainer, grad_accum: int) -> float:
    """Seconds for one optimiser step's forward+backward passes (second of two; the first warms up)."""
    model = trainer.model
    model.train()
    batch = next(iter(trainer.get_train_dataloader()))
    times = []
    for _ in range(2):
        t = time.perf_counter()
        for _ in range(grad_accum):
            trainer.compute_loss(model, batch).backward()
        times.append(time.perf_counter() - t)
        model.zero_grad(set_to_none=True)  # nothing is applied: no optimiser step
    return round(times[-1], 3)


def eval_only(config: TrainConfig) -> dict:
    """Evaluate the base and (if any) an adapter on the test split; writes metrics if out is set."""
    from peft import PeftModel

    adapter = config.adapter
    if adapter is None and config.out is not None and (Path(config.out) / "adapter").is_dir():
        adapter = Path(config.out) / "adapter"
    if config.base is None and adapter is not None:
        config = config.merged(base=_adapter_base(Path(adapter)))  # the model it was trained on, if local
    config = resolve(config, need_out=False)
    data, model, tokenizer = _setup(config)
    kw = _eval_kw(config)
    base, base_scores = evaluate(model, tokenizer, data.test, desc="base: test", return_scores=True, **kw)
    metrics: dict = {"base": base, "eval_only": True, "adapter": str(adapter) if adapter else None}
    if adapter is not None:
        policy = PeftModel.from_pretrained(model, str(adapter))
        metrics["after"] = evaluate(policy, tokenizer, data.test, ref_scores=base_scores, desc="adapter: test", **kw)
    metrics.update(_provenance(config, data))
    metrics.update(fit_report(config, fit_data(config, data, tokenizer)))
    if config.out is not None:
        out = Path(config.out)
        out.mkdir(parents=True, exist_ok=True)
        # Never overwrite the record of a training run in the same folder.
        name = "eval_metrics.json" if _is_training_record(out / "metrics.json") else "metrics.json"
        report.write_json(out / name, metrics)
        metrics["written_to"] = str(out / name)
    return metrics


def _adapter_base(adapter: Path) -> str | None:
    try:
        base = json.loads((adapter / "adapter_config.json").read_text()).get("base_model_name_or_path")
    except (OSError, ValueError):
        return None
    return base if base and Path(base).exists() else None


def _is_training_record(path: Path) -> bool:
    try:
        return "eval_only" not in json.loads(path.read_text())
    except (OSError, ValueError):
        return False
