"""Training settings: defaults that run on a CPU, a TOML/JSON file, then command-line flags."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Flag-style spellings accepted in config files, so a file can use the same names as the CLI.
ALIASES = {"lr": "learning_rate", "steps": "max_steps", "lora_rank": "lora_r", "num_threads": "threads"}


class ConfigError(ValueError):
    pass


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data: Path | None = Field(None, description="TRL export folder (train.jsonl, test.jsonl, README.md)")
    base: str | None = Field(None, description="local HF model folder or .gguf file; None = SmolLM2-135M GGUF")
    out: Path | None = Field(None, description="output folder")
    adapter: Path | None = Field(None, description="adapter to evaluate with eval_only")

    beta: float = Field(0.1, gt=0)
    learning_rate: float = Field(5e-5, gt=0)
    lora_r: int = Field(8, ge=1)
    lora_alpha: int = Field(16, ge=1)
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    # Llama-style attention projections (SmolLM2, Llama, Qwen, Mistral); ["all-linear"] for every linear layer.
    lora_targets: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    max_length: int = Field(512, ge=8)
    max_steps: int | None = Field(None, ge=1, description="overrides epochs when set")
    epochs: float = Field(1.0, gt=0)
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    eval_batch_size: int = Field(4, ge=1)
    lr_scheduler: str = "linear"
    warmup_steps: int = Field(0, ge=0)
    seed: int = 0
    logging_steps: int = Field(1, ge=1)
    # CPU defaults. On GPUs (accelerate launch) set bf16 = true, and gradient_checkpointing for memory.
    bf16: bool = False
    gradient_checkpointing: bool = False
    threads: int | None = Field(None, ge=1, description="torch CPU threads; None = torch's default")
    # Speed on a CPU (figures in docs/trainer.md, bench/trainer_bench.py).
    precompute_ref: bool = Field(False, description="reference log-probs computed once before training "
                                 "(TRL precompute_ref_log_probs): pays off from the second epoch")
    group_by_length: bool = Field(False, description="batches of pairs of similar length (less padding), "
                                  "in a seeded random order, the same each epoch")
    eval_train: bool = Field(True, description="also score the training pairs (shows the fit)")
    progress: bool = True

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a .toml or .json file; keys may use dashes and the CLI's names (lr, steps)."""
        path = Path(path)
        if path.suffix not in (".json", ".toml"):
            raise ConfigError(f"config must be .toml or .json, got {path.name}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read config {path}: {e}") from e
        try:
            if path.suffix == ".json":
                raw = json.loads(text)
            else:
                raw = tomllib.loads(text)
                raw = raw.get("train", raw)  # a [train] table or top-level keys
        except (ValueError, tomllib.TOMLDecodeError) as e:  # the message says the line and column
            raise ConfigError(f"{path}: invalid {path.suffix[1:].upper()}: {e}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the settings must be a table of keys and values, not {type(raw).__name__}")
        try:
            return cls.model_validate(normalise(raw))
        except ValidationError as e:
            raise ConfigError(f"{path}: {one_line(e)}") from None

    def merged(self, **overrides: Any) -> TrainConfig:
        """A copy with the given settings replaced; None means "not given" (flags left unset)."""
        given = {k: v for k, v in normalise(overrides).items() if v is not None}
        try:
            return type(self).model_validate({**self.model_dump(), **given})
        except ValidationError as e:
            raise ConfigError(one_line(e)) from None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def one_line(e: ValidationError) -> str:
    """A pydantic error on one line: `key: what is wrong` for each key ("unknown key" for an extra one)."""
    said = []
    for err in e.errors():
        key = ".".join(str(p) for p in err["loc"]) or "settings"
        said.append(f"{key}: {'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}")
    return "; ".join(said)


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in raw.items():
        key = key.replace("-", "_")
        out[ALIASES.get(key, key)] = value
    if isinstance(out.get("lora_targets"), str):
        out["lora_targets"] = [t.strip() for t in out["lora_targets"].split(",") if t.strip()]
    return out


def lora_target_modules(config: TrainConfig) -> list[str] | str:
    # peft expects the special value as a bare string.
    return "all-linear" if config.lora_targets == ["all-linear"] else list(config.lora_targets)
