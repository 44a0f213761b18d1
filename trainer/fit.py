"""Tokenising a pair as TRL's DPOTrainer does, and fitting it into `max_length` tokens.

Real agent pairs carry long prompts (earlier turns, tool-call lines, pasted output). TRL cuts
prompt+completion at `max_length` from the end (`keep_start`) and silently drops a pair whose
prompt alone fills it, so most real pairs would lose their answer or vanish. Instead, one rule,
applied before training and before every evaluation:

- always kept: the leading system message (the persona), the last prompt message (the user's
  request the answers reply to), and both completions whole (the answers being judged);
- cut first: the older turns between them, oldest first: each is summarised to one line
  (whitespace collapsed, 110 characters, as `vault show` prints it), then, if still too long,
  dropped from the left (an assistant turn left leading the history goes with it);
- a pair whose kept parts alone exceed `max_length` is excluded, with its reason.

Lengths are counted on the exact token ids TRL feeds the model (`encode_pair`), so a fitted pair
is never truncated by TRL's collator; train.py checks TRL's tokenisation against ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os.path import commonprefix

from vault.render import one_line

SUMMARY_CHARS = 110  # as `vault show` prints a tool call (vault/cli/views/session.py LINE_CHARS)


@dataclass
class Encoded:
    prompt: list[int]
    chosen: list[int]
    rejected: list[int]
    prompt_is_prefix: bool
    divergence: str = ""

    @property
    def length(self) -> int:
        """Tokens of the longer of the two sequences (prompt + chosen, prompt + rejected)."""
        return len(self.prompt) + max(len(self.chosen), len(self.rejected))


def _chat_ids(tokenizer, messages: list[dict], generation_prompt: bool) -> list[int]:
    # The same call as trl.data_utils._tokenize for conversational input.
    out = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt,
                                        return_dict=True)
    return list(out["input_ids"])


def encode_pair(tokenizer, pair: dict) -> Encoded:
    """Prompt and completion token ids, split where TRL splits them (the common prefix)."""
    prompt = _chat_ids(tokenizer, pair["prompt"], True)
    chosen = _chat_ids(tokenizer, pair["prompt"] + pair["chosen"], False)
    rejected = _chat_ids(tokenizer, pair["prompt"] + pair["rejected"], False)
    n = min(len(commonprefix([prompt, chosen])), len(commonprefix([prompt, rejected])))
    ok = n == len(prompt)
    div = "" if ok else tokenizer.decode(prompt[n:])
    return Encoded(prompt[:n], chosen[n:], rejected[n:], ok, div)


@dataclass
class Fitted:
    """One pair after fitting: `pair` is None when excluded (then `reason` says why)."""

    pair_id: str
    pair: dict | None
    encoded: Encoded | None
    tokens: int  # tokens as exported; for an excluded pair, of the shortest form tried
    summarised: int = 0  # older turns cut to one line
    dropped: int = 0  # older turns removed
    reason: str = ""

    @property
    def shortened(self) -> bool:
        return bool(self.summarised or self.dropped)


def _candidates(pair: dict) -> list[tuple[list[dict], int, int]]:
    """Prompts from the full one to the shortest allowed, each no longer than the one before.

    Returns (prompt, turns summarised, turns dropped) tuples.
    """
    prompt = pair["prompt"]
    head = prompt[:1] if prompt[0]["role"] == "system" and len(prompt) > 1 else []
    last = prompt[-1:]
    middle = prompt[len(head) : len(prompt) - 1]
    out = [(prompt, 0, 0)]
    short = list(middle)
    for i, m in enumerate(middle):  # summarise, oldest first
        line = one_line(m["content"], SUMMARY_CHARS)
        if len(line) < len(m["content"]):
            short[i] = {**m, "content": line}
            out.append((head + short + last, i + 1, 0))
    summarised = out[-1][1]
    start = 0
    while start < len(short):  # then drop, oldest first, so history never starts with an answer
        start += 1
        while start < len(short) and short[start]["role"] == "assistant":
            start += 1
        out.append((head + short[start:] + last, summarised, start))
    return out


def fit_pair(tokenizer, pair: dict, max_length: int) -> Fitted:
    """The longest form of `pair` that fits in max_length tokens (see the module docstring)."""
    pid = str(pair.get("pair_id"))
    cands = _candidates(pair)
    full = encode_pair(tokenizer, pair)
    if full.length <= max_length:
        return Fitted(pid, pair, full, full.length)
    encoded: dict[int, Encoded] = {0: full}

    def enc(i: int) -> Encoded:
        if i not in encoded:
            encoded[i] = encode_pair(tokenizer, {**pair, "prompt": cands[i][0]})
        return encoded[i]

    last = len(cands) - 1
    if enc(last).length > max_length:
        e = enc(last)
        return Fitted(pid, None, None, full.length, reason=(
            f"needs {e.length} tokens > max_length {max_length} with only the persona, the last request "
            f"({len(e.prompt)} prompt tokens) and the answers ({len(e.chosen)} chosen, {len(e.rejected)} "
            "rejected) kept"))
    lo, hi = 1, last  # candidates shrink monotonically: binary search for the first that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if enc(mid).length <= max_length:
            hi = mid
        else:
            lo = mid + 1
    prompt, summarised, dropped = cands[lo]
    return Fitted(pid, {**pair, "prompt": prompt}, enc(lo), full.length, summarised, dropped)


@dataclass
class SplitFit:
    """The pairs of one split after fitting, in their order, and the ones excluded."""

    name: str
    fitted: list[Fitted] = field(default_factory=list)

    @property
    def pairs(self) -> list[dict]:
        return [f.pair for f in self.fitted if f.pair is not None]

    @property
    def excluded(self) -> list[dict]:
        return [{"pair_id": f.pair_id, "split": self.name, "tokens": f.tokens, "reason": f.reason}
                for f in self.fitted if f.pair is None]

    def summary(self) -> dict:
        n = len(self.fitted)
        out = len(self.excluded)
        return {"n_in_split": n, "n_kept": n - out, "n_excluded": out,
                "n_shortened": sum(f.shortened for f in self.fitted if f.pair is not None),
                "excluded_share": round(out / n, 4) if n else 0.0}


def fit_split(tokenizer, pairs: list[dict], max_length: int, name: str) -> SplitFit:
    return SplitFit(name, [fit_pair(tokenizer, p, max_length) for p in pairs])


def length_batches(fitted: list[Fitted], batch_size: int, seed: int) -> list[Fitted]:
    """The pairs sorted by length, cut into batches, the batches in a seeded random order.

    Neighbours in length share a batch, so little of a batch is padding. (transformers'
    group_by_length sorts only within mega-batches of len/4 pairs: no grouping on tens of pairs.)
    """
    import random

    kept = sorted((f for f in fitted if f.encoded is not None), key=lambda f: f.encoded.length)
    batches = [kept[i : i + batch_size] for i in range(0, len(kept), batch_size)]
    random.Random(seed).shuffle(batches)
    return [f for b in batches for f in b]


LOUD_SHARE = 0.10  # more excluded than this and the table and the model card say so loudly


def exclusion_warning(summaries: dict[str, dict], max_length: int) -> str | None:
    """One sentence when a split lost more than LOUD_SHARE of its pairs, else None."""
    parts = [f"{s['n_excluded']} of {s['n_in_split']} {name} pairs ({s['excluded_share']:.0%})"
             for name, s in summaries.items() if s["n_in_split"] and s["excluded_share"] > LOUD_SHARE]
    if not parts:
        return None
    return (f"{' and '.join(parts)} EXCLUDED: they do not fit max_length {max_length} even with older turns "
            "cut; the figures describe the remaining pairs only (raise --max-length; ids and reasons in "
            "metrics.json `excluded`)")
