"""Preference evaluation of a model on exported pairs, with the persona ablation.

Three views of each pair (definitions in docs/trainer.md), all from the summed log-probability
of the completion tokens given the prompt, tokenised exactly as TRL's DPOTrainer does, after the
pair is fitted into max_length by the rule training uses (fit.py; a pair that cannot fit is
counted as `excluded`, never scored on a truncated answer):
  preference_accuracy / mean_margin   log pi(chosen|x) - log pi(rejected|x) > 0, for any model
  norm_accuracy / norm_margin         the same per completion token (removes the length bias)
  reward_accuracy / reward_margin     the DPO implicit reward, beta * that margin minus the
                                      reference model's margin; ties count one half, so a model
                                      scored against itself (the base) gets exactly 0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import has_persona, other_roles, role_of, role_personas, with_persona, without_persona
from .fit import Encoded, encode_pair, fit_pair

__all__ = ["Encoded", "encode_pair", "check_template", "evaluate", "score_pairs", "stats"]


def check_template(tokenizer, pairs: list[dict]) -> list[str]:
    """Pairs whose prompt does not tokenise as a prefix of prompt+completion.

    When it does not, TRL silently cuts the prompt where they diverge and the model trains on
    a context it never sees at inference (the generation prompt differs from the rendered turn).
    """
    problems = []
    for pair in pairs:
        e = encode_pair(tokenizer, pair)
        if not e.prompt_is_prefix:
            problems.append(
                f"pair {pair.get('pair_id')}: the prompt is not a prefix of prompt+completion; "
                f"it diverges at {e.divergence!r}"
            )
        elif not e.chosen or not e.rejected:
            problems.append(f"pair {pair.get('pair_id')}: a completion renders to no tokens")
    return problems


@dataclass
class Scores:
    """Summed completion log-probs (and token counts) of each pair, in pair order."""

    roles: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    n_chosen: np.ndarray
    n_rejected: np.ndarray

    def subset(self, mask: np.ndarray) -> Scores:
        return Scores(*(a[mask] for a in (self.roles, self.chosen, self.rejected, self.n_chosen, self.n_rejected)))

    @property
    def valid(self) -> np.ndarray:
        # A pair that does not fit max_length (fit.fit_pair) is not scored: nothing to compare.
        return (self.n_chosen > 0) & (self.n_rejected > 0)


def score_pairs(model, tokenizer, pairs: list[dict], *, max_length: int = 512, batch_size: int = 4,
                progress: bool = True, desc: str = "scoring") -> Scores:
    """Scores of each pair fitted into max_length by `fit_pair`, the rule training uses; a pair
    that cannot fit is not scored (its counts stay 0, so `Scores.valid` is False)."""
    seqs, where = [], []
    for i, pair in enumerate(pairs):
        fitted = fit_pair(tokenizer, pair, max_length)
        if fitted.encoded is None:
            continue
        e = fitted.encoded
        for side, completion in enumerate((e.chosen, e.rejected)):
            seqs.append((e.prompt + completion, len(e.prompt)))
            where.append(2 * i + side)
    logps, counts = np.zeros(2 * len(pairs)), np.zeros(2 * len(pairs), dtype=np.int64)
    if seqs:
        lp, n = _sequence_logps(model, seqs, tokenizer.pad_token_id, 2 * batch_size, progress, desc)
        logps[where], counts[where] = lp, n
    roles = np.array([role_of(p) for p in pairs], dtype=object)
    return Scores(roles, logps[0::2], logps[1::2], counts[0::2], counts[1::2])


def _sequence_logps(model, seqs, pad_id, batch_size, progress, desc):
    import torch
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    logps, counts = np.zeros(len(seqs)), np.zeros(len(seqs), dtype=np.int64)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i][0]))  # less padding per batch
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for idx in tqdm(batches, desc=desc, disable=not progress, leave=False):
            width = max(len(seqs[i][0]) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            completion = torch.zeros_like(ids, dtype=torch.bool)
            for row, i in enumerate(idx):
                s, plen = seqs[i]
                ids[row, : len(s)] = torch.tensor(s)
                mask[row, : len(s)] = 1
                completion[row, plen : len(s)] = True
            ids, mask, completion = ids.to(device), mask.to(device), completion.to(device)
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
            target = completion[:, 1:]  # token t is predicted at position t-1
            picked = logits[:, :-1][target].float().log_softmax(-1)
            lp = picked.gather(1, ids[:, 1:][target][:, None]).squeeze(1)
            rows = target.nonzero()[:, 0]
            sums = torch.zeros(len(idx), device=device).index_add_(0, rows, lp)
            for row, i in enumerate(idx):
                logps[i] = sums[row].item()
                counts[i] = int(target[row].sum())
    model.train(was_training)
    return logps, counts


def _acc(x: np.ndarray) -> float:
    return float((x > 0).mean() + 0.5 * (x == 0).mean())


def stats(s: Scores, ref: Scores | None = None, beta: float = 0.1) -> dict:
    """Accuracy and margins of one set of scores; ref = the same pairs under the reference model."""
    ok = s.valid if ref is None else s.valid & ref.valid
    if not ok.any():
        return {"n": 0, "preference_accuracy": None, "mean_margin": None}
    margin = (s.chosen - s.rejected)[ok]
    norm = (s.chosen / np.maximum(s.n_chosen, 1) - s.rejected / np.maximum(s.n_rejected, 1))[ok]
    reward = np.zeros_like(margin) if ref is None else beta * (margin - (ref.chosen - ref.rejected)[ok])
    return {
        "n": int(ok.sum()),
        "preference_accuracy": _acc(margin),
        "mean_margin": float(margin.mean()),
        "norm_accuracy": _acc(norm),
        "norm_margin": float(norm.mean()),
        "reward_accuracy": _acc(reward),
        "reward_margin": float(reward.mean()),
    }


def score_conditions(model, tokenizer, pairs: list[dict], *, ablation: bool = True, **kw) -> dict[str, Scores]:
    """Scores of the pairs as given and, for the pairs with a persona, without it and with another role's."""
    desc = kw.pop("desc", "scoring")
    out = {"given": score_pairs(model, tokenizer, pairs, desc=desc, **kw)}
    persona_pairs = [p for p in pairs if has_persona(p)]
    if ablation and persona_pairs:
        out["without_persona"] = score_pairs(
            model, tokenizer, [without_persona(p) for p in persona_pairs], desc=f"{desc} (no persona)", **kw
        )
        personas = role_personas(pairs)
        swap = other_roles(personas)
        if swap:
            swapped = [with_persona(p, personas[swap[role_of(p)]]) if role_of(p) in swap else p
                       for p in persona_pairs]
            out["other_persona"] = score_pairs(model, tokenizer, swapped, desc=f"{desc} (other persona)", **kw)
    return out


def summarise(pairs: list[dict], scores: dict[str, Scores], ref: dict[str, Scores] | None = None,
              beta: float = 0.1) -> dict:
    """The metrics block for one model: overall figures plus the persona ablation."""
    r = ref or {}
    block = stats(scores["given"], r.get("given"), beta)
    block["n_in_split"] = len(pairs)
    block["excluded"] = int((~scores["given"].valid).sum())
    mask = np.array([has_persona(p) for p in pairs], dtype=bool)
    if "without_persona" not in scores:
        block["persona_ablation"] = None
        return block
    conds = {"with_persona": (scores["given"].subset(mask), r["given"].subset(mask) if r else None)}
    for name in ("without_persona", "other_persona"):
        if name in scores:
            conds[name] = (scores[name], r.get(name))
    # The same pairs in every view: a pair that fits only without its persona (or only with a
    # shorter one) would otherwise be compared with a different set of pairs.
    same = np.logical_and.reduce([s.valid for s, _ in conds.values()])
    conds = {name: (s.subset(same), rs.subset(same) if rs else None) for name, (s, rs) in conds.items()}
    abl: dict = {"n": int(same.sum()), "n_with_persona": int(mask.sum())}
    abl.update({name: stats(s, rs, beta) for name, (s, rs) in conds.items()})
    if "other_persona" in scores:
        abl["other_persona_of"] = other_roles(role_personas(pairs))
    roles = conds["with_persona"][0].roles
    abl["by_role"] = {
        role: {name: stats(s.subset(roles == role), rs.subset(roles == role) if rs else None, beta)
               for name, (s, rs) in conds.items()}
        for role in sorted(set(roles))
    }
    block["persona_ablation"] = abl
    return block


def evaluate(model, tokenizer, pairs: list[dict], *, beta: float = 0.1, max_length: int = 512,
             batch_size: int = 4, ref_scores: dict[str, Scores] | None = None, ablation: bool = True,
             progress: bool = True, desc: str = "eval", return_scores: bool = False):
    """Metrics block of `model` on `pairs`; pass the base model's scores as ref_scores for the
    DPO reward figures. With return_scores, returns (block, scores) so they can serve as ref."""
    scores = score_conditions(model, tokenizer, pairs, ablation=ablation, max_length=max_length,
                              batch_size=batch_size, progress=progress, desc=desc)
    block = summarise(pairs, scores, ref_scores, beta)
    return (block, scores) if return_scores else block
