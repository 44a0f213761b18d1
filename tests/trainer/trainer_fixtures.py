"""Helpers for the trainer tests: a tiny exported dataset and a tiny random chat model.

Nothing is downloaded: the tokenizer is trained here on the pair texts with `tokenizers`,
the model is a randomly initialised two-layer Llama built from a config.
"""

from __future__ import annotations

import json
from pathlib import Path

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Renders assistant turns under another header than the generation prompt: the prompt is then
# not a prefix of prompt+completion, which the dry run must catch.
BROKEN_CHATML = (
    "{% for m in messages %}<|im_start|>{{ 'bot' if m['role'] == 'assistant' else m['role'] }}\n"
    "{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TERSE = "terse: answers in one line, no preamble"
DETAILED = "detailed: step-by-step explanations with examples"
# (question, terse right, terse wrong, detailed right, detailed wrong): right and wrong answers
# have about the same length, so a preference can be learnt from content, not from length.
QA = [
    ("What is 2+2?", "4.", "5.", "Count up from 2 twice: 3, then 4. So it is 4.",
     "Count up from 2 twice: 3, then 5. So it is 5."),
    ("Capital of France?", "Paris.", "Rome.", "The capital of France is Paris, on the Seine.",
     "The capital of France is Rome, on the Tiber."),
    ("How do I list files?", "ls", "cd", "Open a terminal and type ls, e.g. ls -l for sizes.",
     "Open a terminal and type cd, e.g. cd -l for sizes."),
    ("Reverse a list in Python?", "xs[::-1]", "xs[1::]", "Slice with step -1: xs[::-1] gives a reversed copy.",
     "Slice with step 1: xs[1::] gives a reversed copy."),
    ("What is HTTP 404?", "Not found.", "Redirect.", "404 means not found: the path, e.g. /foo, is wrong.",
     "404 means redirect: the path, e.g. /foo, has moved."),
    ("Boiling point of water?", "100 C.", "50 C.", "At sea level water boils at 100 C, lower up a hill.",
     "At sea level water boils at 50 C, higher up a hill."),
]


def pair(i: int, q: str, tr: str, tw: str, dr: str, dw: str, role: str) -> dict:
    persona = TERSE if role == "terse" else DETAILED
    chosen, rejected = (tr, tw) if role == "terse" else (dr, dw)
    return {
        "prompt": [{"role": "system", "content": persona}, {"role": "user", "content": q}],
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "pair_id": f"{role}-{i}",
        "session_id": f"s-{role}-{i // 2}",
        "role_name": role,
        "persona": persona,
        "method": "test",
    }


def tiny_pairs() -> tuple[list[dict], list[dict]]:
    """8 train pairs (questions 0-3, both roles) and 4 test pairs (questions 4-5)."""
    pairs = [pair(i, *qa, role) for i, qa in enumerate(QA) for role in ("terse", "detailed")]
    return pairs[:8], pairs[8:]


def write_export(root: Path, train: list[dict], test: list[dict], card: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("test", test)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if card:
        (root / "README.md").write_text("---\npretty_name: tiny persona pairs\n---\n# Tiny pairs\n")
    return root


def build_tiny_model(root: Path, template: str = CHATML) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [t for qa in QA for t in qa] + [TERSE, DETAILED, "system user assistant"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|pad|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>")
    hf.chat_template = template
    return save_tiny_llama(root, hf, 256)


def save_tiny_llama(root: Path, tokenizer, max_positions: int) -> Path:
    """A random two-layer Llama for `tokenizer`, saved with it in `root` (a --base folder)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=max_positions,
                         tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    root.mkdir(parents=True, exist_ok=True)
    LlamaForCausalLM(config).save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root
