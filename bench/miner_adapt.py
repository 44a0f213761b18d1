"""Adapting the encoder: MiniLM's top layer(s) fine-tuned as a cross-encoder on (answer tail, turn), measured on
people the miner has never seen (the tuning half of bench/unseen_split.json) against learned-5.

    nice python bench/miner_adapt.py --cache C --unseen-cache U --half tuning [--layers 1] [--epochs 3] ...

The cross-encoder: the pair "[end of the assistant's answer] [SEP] [the turn]" through MiniLM
(all-MiniLM-L6-v2), its bottom layers frozen, the top `--layers` layer(s) trained with a one-logit head on
mean-pooled tokens (correction or not), on the training authors' modelled turns (what
`python -m miner.classify.train` fits on), each author weighted n ** -0.5 as the regression weights them.
The frozen layers' output is computed once per text, so a fit only runs the top layer(s): cheap enough to
cross-fit. CPU, one thread, `torch.use_deterministic_algorithms(True)`, seeded: the same data and seed
give the same weights.

Recipes scored, every choice made without the scored authors:
- `learned-5`: the shipped recipe (train.fit), its own threshold;
- `ce`: the cross-encoder alone, its threshold the best F1 on out-of-fold training logits (5 author folds);
- `ce+lr`: learned-5's regression with the cross-encoder's logit as one more column (training rows get
  out-of-fold logits, so the regression's inner cross-validation sees what a new author's logit is worth);
- `blend`: learned-5's correction probability and the cross-encoder's averaged, threshold from the
  out-of-fold training probabilities.
Per author tp / fp / fn, and the F1 change against learned-5 with a 90% interval from resampling the scored
authors (2,000 draws, seeded).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import offline_one_thread  # noqa: E402

offline_one_thread(tokenizers=True)  # before numpy or torch loads

ANSWER_CHARS = 400  # the end of the answer: its claim, question or hand-off
TURN_CHARS = 700


def pair_texts(turn) -> tuple[str, str]:
    return ((turn.prev_assistant or "").strip()[-ANSWER_CHARS:] or "(no answer)", turn.text.strip()[:TURN_CHARS])


class Encoder:
    """MiniLM split in two: the frozen bottom (run once per text) and a trainable copy of the top layers."""

    def __init__(self, layers: int, max_length: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from vault.index.embeddings import model_location
        from vault.index.settings import DEFAULT_MODEL

        path = model_location(DEFAULT_MODEL)
        self.tok = AutoTokenizer.from_pretrained(path)
        self.bert = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
        self.k, self.max_length = layers, max_length
        self.torch = torch

    def frozen(self, pairs: list[tuple[str, str]], batch: int = 32):
        """(hidden states entering the top k layers, attention masks), padded to max_length."""
        torch = self.torch
        H, M = [], []
        with torch.no_grad():
            for i in range(0, len(pairs), batch):
                a, b = zip(*pairs[i:i + batch])
                enc = self.tok(list(a), list(b), truncation="longest_first", max_length=self.max_length,
                               padding="max_length", return_tensors="pt")
                out = self.bert(**enc, output_hidden_states=True)
                H.append(out.hidden_states[-1 - self.k])
                # the pooling mask rides along as attention mask x 2 on the turn's tokens (segment B)
                M.append(enc["attention_mask"] * (1 + enc["token_type_ids"]))
        return torch.cat(H), torch.cat(M)


class Head:
    """The top k layers (trainable copies) and a linear head on mean-pooled tokens."""

    def __init__(self, enc: Encoder, seed: int, pool: str = "pair") -> None:
        torch = enc.torch
        self.pool = pool
        torch.manual_seed(seed)
        self.torch = torch
        self.layers = torch.nn.ModuleList([copy.deepcopy(m) for m in enc.bert.encoder.layer[-enc.k:]])
        self.linear = torch.nn.Linear(enc.bert.config.hidden_size, 1)

    def params(self):
        return list(self.layers.parameters()) + list(self.linear.parameters())

    def pooled(self, h, mask):
        add = (1.0 - (mask[:, None, None, :] > 0).to(h.dtype)) * -1e9
        for layer in self.layers:
            out = layer(h, add)
            h = out[0] if isinstance(out, tuple) else out
        m = ((mask == 2) if self.pool == "turn" else (mask > 0))[:, :, None].to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1.0)

    normalise = False  # SetFit's head reads normalised vectors

    def logits(self, h, mask):
        v = self.pooled(h, mask)
        return self.linear(self.torch.nn.functional.normalize(v, dim=1) if self.normalise else v)[:, 0]


def train_head(enc, H, M, y, w, seed: int, epochs: int, lr: float, head_lr: float, batch: int = 16,
               pool: str = "pair") -> Head:
    torch = enc.torch
    head = Head(enc, seed, pool)
    opt = torch.optim.AdamW([{"params": list(head.layers.parameters()), "lr": lr},
                             {"params": list(head.linear.parameters()), "lr": head_lr}], weight_decay=0.01)
    y_t, w_t = torch.tensor(y, dtype=torch.float32), torch.tensor(w, dtype=torch.float32)
    pos = float((w * (1 - y)).sum() / max((w * y).sum(), 1e-9))  # corrections weigh what the rest weighs
    g = torch.Generator().manual_seed(seed)
    head.layers.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), batch):
            idx = order[i:i + batch]
            z = head.logits(H[idx], M[idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                z, y_t[idx], weight=w_t[idx], pos_weight=torch.tensor(pos), reduction="sum") / w_t[idx].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.layers.eval()
    return head


def train_setfit(enc, H, M, y, authors, w, seed: int, epochs: int, lr: float, batch: int = 16,
                 pool: str = "turn") -> Head:
    """SetFit-style: the top layer(s) tuned so that the cosine of two turns' pooled vectors is 1 for the same
    label by different authors and 0 for different labels (pairs drawn across authors, so what is learned is
    not who wrote it), then a logistic regression on the tuned, normalised vectors."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    head = Head(enc, seed, pool)
    opt = torch.optim.AdamW(list(head.layers.parameters()), lr=lr, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(epochs):
        for i in rng.permutation(len(y)):
            same = np.flatnonzero((y == y[i]) & (authors != authors[i]))
            other = np.flatnonzero(y != y[i])
            pairs += [(i, int(rng.choice(same)), 1.0), (i, int(rng.choice(other)), 0.0)]
    head.layers.train()
    for k in range(0, len(pairs), batch):
        a, b, t = (torch.tensor(v) for v in zip(*pairs[k:k + batch]))
        u = torch.nn.functional.normalize(head.pooled(H[a], M[a]), dim=1)
        v = torch.nn.functional.normalize(head.pooled(H[b], M[b]), dim=1)
        loss = ((u * v).sum(1) - t.float()).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.layers.eval()
    with torch.no_grad():
        V = torch.cat([torch.nn.functional.normalize(head.pooled(H[i:i + 64], M[i:i + 64]), dim=1)
                       for i in range(0, len(H), 64)]).numpy()
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(V, y, sample_weight=w)
    head.linear.weight.data = torch.tensor(clf.coef_, dtype=torch.float32)
    head.linear.bias.data = torch.tensor(clf.intercept_, dtype=torch.float32)
    head.normalise = True
    return head


def head_logits(head: Head, H, M, batch: int = 64):
    torch = head.torch
    with torch.no_grad():
        return torch.cat([head.logits(H[i:i + batch], M[i:i + batch]) for i in range(0, len(H), batch)]).numpy()


def author_folds(authors, k: int) -> list:
    names = sorted(set(authors))
    random.Random(0).shuffle(names)
    return [set(names[i::k]) for i in range(k)]


def best_threshold(p, y) -> float:
    import numpy as np

    best, best_t = -1.0, 0.5
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        pred = p >= t
        tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
        f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f > best + 1e-12:
            best, best_t = f, float(t)
    return best_t


def counts_by_author(test, is_corr_pred) -> dict:
    out: dict = {}
    for e, p in zip(test, is_corr_pred, strict=True):
        gold = e.label == "reattempt_with_feedback"
        c = out.setdefault(e.author, [0, 0, 0])
        c[0] += gold and p
        c[1] += (not gold) and p
        c[2] += gold and not p
    return out


def ece(p, y, bins: int = 5) -> float:
    """Expected calibration error of the correction probability p against y (correction or not)."""
    import numpy as np

    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    b = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum((b == k).sum() / len(p) * abs(p[b == k].mean() - y[b == k].mean()) for k in range(bins)
                     if (b == k).any()))


def f1_of(c) -> float:
    return 2 * c[0] / (2 * c[0] + c[1] + c[2]) if c[0] else 0.0


def pooled(counts, authors) -> list[int]:
    return [sum(counts[a][j] for a in authors if a in counts) for j in range(3)]


def bootstrap(ref, new, authors, draws: int = 2000) -> tuple[float, float, float]:
    rng = random.Random(20261203)
    authors = sorted(authors)
    d0 = f1_of(pooled(new, authors)) - f1_of(pooled(ref, authors))
    ds = []
    for _ in range(draws):
        s = [rng.choice(authors) for _ in authors]
        ds.append(f1_of(pooled(new, s)) - f1_of(pooled(ref, s)))
    ds.sort()
    return d0, ds[int(0.05 * draws)], ds[int(0.95 * draws) - 1]


def main() -> None:
    from miner.classify.dataset import POINTERS_TEXT

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half", choices=["tuning", "held-out", "fresh"], default="tuning")
    ap.add_argument("--cache", help="pickle of the training turns (as bench/miner_cv.py --cache)")
    ap.add_argument("--unseen-cache", help="pickle of the unseen turns and their embeddings")
    ap.add_argument("--pointers-text", default=str(POINTERS_TEXT))
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--layers", type=int, default=1, help="top MiniLM layers trained")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--max-length", type=int, default=160)
    ap.add_argument("--folds", type=int, default=5, help="author folds for the out-of-fold training logits")
    ap.add_argument("--logit-weight", type=float, default=1.0, help="the logit column's weight in the regression")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--setfit", action="store_true", help="contrastive tuning across authors, then a regression head")
    ap.add_argument("--pool", choices=["pair", "turn"], default="pair",
                    help="mean over all tokens, or over the turn's tokens only (they still attend to the answer)")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    from miner.classify import train as T
    from miner.classify.learned import feature_matrix
    from miner_cv import load
    from miner_unseen import SPLIT, unseen_data

    t_cpu, t_wall = time.process_time(), time.perf_counter()
    split = json.loads(SPLIT.read_text())
    args.no_external = False
    train, E = load(args)
    X = feature_matrix([e.turn for e in train])
    test, E_t, X_t, _ = unseen_data(Path(args.pointers_text), Path(args.unseen_cache) if args.unseen_cache else None)
    halves = {"tuning": set(split["tuning"]), "held-out": set(split["held_out"])}
    halves["fresh"] = {e.author for e in test} - halves["tuning"] - halves["held-out"]
    keep = [i for i, e in enumerate(test) if e.author in halves[args.half]]
    test, E_t, X_t = [test[i] for i in keep], E_t[keep], X_t[keep]
    scored = sorted({e.author for e in test})
    print(f"training {len(train)} turns / {len({e.author for e in train})} authors; scoring {len(test)} turns of "
          f"{len(scored)} authors ({args.half}); layers {args.layers}, epochs {args.epochs}, lr {args.lr}, "
          f"max_length {args.max_length}, pool {args.pool}", flush=True)

    # The cross-encoder learns what the regression learns from: the modelled training turns.
    mod = T.modelled(train)
    y = np.asarray([train[i].label == "reattempt_with_feedback" for i in mod])
    authors = np.asarray([train[i].author for i in mod])
    w = T.author_weights(authors, T.BALANCE)
    w = w * len(w) / w.sum()
    enc = Encoder(args.layers, args.max_length)
    t0 = time.process_time()
    H, M = enc.frozen([pair_texts(train[i].turn) for i in mod])
    Ht, Mt = enc.frozen([pair_texts(e.turn) for e in test])
    print(f"frozen layers: {len(H) + len(Ht)} pairs in {time.process_time() - t0:.0f} s CPU", flush=True)

    def fit_ce(rows):
        if args.setfit:
            return train_setfit(enc, H[rows], M[rows], y[rows], authors[rows], w[rows], args.seed, args.epochs,
                                args.lr, pool=args.pool)
        return train_head(enc, H[rows], M[rows], y[rows].astype(np.float32), w[rows], args.seed, args.epochs,
                          args.lr, args.head_lr, pool=args.pool)

    t0 = time.process_time()
    oof = np.zeros(len(mod))
    for fold in author_folds(authors.tolist(), args.folds):
        inside = np.asarray([a in fold for a in authors])
        oof[inside] = head_logits(fit_ce(np.flatnonzero(~inside)), H[inside], M[inside])
    t1 = time.process_time()
    full = fit_ce(np.arange(len(mod)))
    fit_cpu = time.process_time() - t1
    z_test = head_logits(full, Ht, Mt)
    print(f"cross-encoder: {args.folds} out-of-fold fits + 1 full fit in {time.process_time() - t0:.0f} s CPU "
          f"(the full fit {fit_cpu:.0f} s)", flush=True)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    from sklearn.metrics import roc_auc_score

    print(f"  AUC on training: out-of-fold {roc_auc_score(y, oof):.3f}, in-sample "
          f"{roc_auc_score(y, head_logits(full, H, M)):.3f}", flush=True)

    results: dict = {}
    preds: dict = {}

    # learned-5 as shipped
    m5 = T.fit(train, E, X=X)
    lab5 = T.predict(m5, test, E_t, X_t)
    preds["learned-5"] = [lab.label == "reattempt_with_feedback" for lab in lab5]

    # cross-encoder alone
    th = best_threshold(sig(oof), y)
    o = sig(oof) >= th
    tp, fp, fn = int((o & y).sum()), int((o & ~y).sum()), int((~o & y).sum())
    print(f"  ce out-of-fold on training at its threshold {th}: P {tp / max(tp + fp, 1):.2f} R {tp / max(tp + fn, 1):.2f}"
          f" F1 {2 * tp / max(2 * tp + fp + fn, 1):.2f}", flush=True)
    test_mod = np.asarray([T.rules(e.turn) is None for e in test])
    ce_pred = (sig(z_test) >= th) & test_mod
    preds["ce"] = [bool(p) if m else lab.label == "reattempt_with_feedback"
                   for p, m, lab in zip(ce_pred, test_mod, lab5, strict=True)]
    print(f"  ce threshold {th}; AUC on the scored turns "
          f"{roc_auc_score([e.label == 'reattempt_with_feedback' for e, m in zip(test, test_mod) if m], z_test[test_mod]):.3f}",
          flush=True)

    # learned-5's regression with the logit as one more column
    z_train = np.zeros(len(train))
    z_train[mod] = oof
    old = T._standardise

    def standardise(Xm, n_plain, *tail):
        mean, scale = old(Xm, n_plain, *tail)
        scale[n_plain] *= T.EMBED_WEIGHT / args.logit_weight  # the logit column: its own weight, not the embeddings'
        return mean, scale

    T._standardise = standardise
    try:
        m6 = T.fit(train, np.hstack([z_train[:, None], E]), X=X)
    finally:
        T._standardise = old
    lab6 = T.predict(m6, test, np.hstack([z_test[:, None], E_t]), X_t)
    preds["ce+lr"] = [lab.label == "reattempt_with_feedback" for lab in lab6]
    print(f"  ce+lr: C {m6.data['C']}, threshold {m6.data['threshold']}, logit weight "
          f"{m6.coef[1, len(m6.features)] / m6.scale[len(m6.features)]:.3f} per logit unit", flush=True)

    # blend: learned-5's correction probability (out-of-author on training) averaged with the cross-encoder's
    ci = T.CLASSES.index("reattempt_with_feedback")
    P5 = m5.proba(np.hstack([X_t, E_t]))[:, ci]
    yt = np.asarray([e.label == "reattempt_with_feedback" for e in test])[test_mod]
    print(f"  correction-probability ECE on the scored modelled turns: learned-5 {ece(P5[test_mod], yt):.3f}, "
          f"ce {ece(sig(z_test)[test_mod], yt):.3f}; AUC learned-5 {roc_auc_score(yt, P5[test_mod]):.3f}", flush=True)
    P5_train = m5.proba(np.hstack([X[mod], E[mod]]))[:, ci]  # in-sample: optimistic, used for the threshold only
    thb = best_threshold((P5_train + sig(oof)) / 2, y)
    bl = ((P5 + sig(z_test)) / 2 >= thb) & test_mod
    preds["blend"] = [bool(p) if m else lab.label == "reattempt_with_feedback"
                      for p, m, lab in zip(bl, test_mod, lab5, strict=True)]

    ref = counts_by_author(test, preds["learned-5"])
    for name, p in preds.items():
        c = counts_by_author(test, p)
        tot = pooled(c, scored)
        pr = tot[0] / (tot[0] + tot[1]) if tot[0] + tot[1] else 0.0
        rc = tot[0] / (tot[0] + tot[2]) if tot[0] + tot[2] else 0.0
        d, lo, hi = bootstrap(ref, c, scored)
        results[name] = {"precision": round(pr, 3), "recall": round(rc, 3), "f1": round(f1_of(tot), 3),
                         "tp_fp_fn": tot, "f1_change": [round(d, 3), round(lo, 3), round(hi, 3)],
                         "authors": c}
        print(f"\n{name:10s} P {pr:.2f} R {rc:.2f} F1 {f1_of(tot):.2f}  tp {tot[0]} fp {tot[1]} fn {tot[2]}  "
              f"F1 change {d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        for a in scored:
            print(f"      {a:45s} tp {c[a][0]:2d} fp {c[a][1]:2d} fn {c[a][2]:2d}")
    results["_run"] = {"args": vars(args), "cpu_s": round(time.process_time() - t_cpu, 1),
                       "wall_s": round(time.perf_counter() - t_wall, 1), "ce_threshold": th, "blend_threshold": thb}
    print(f"\n{time.process_time() - t_cpu:.0f} s CPU, {time.perf_counter() - t_wall:.0f} s wall")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, default=int))


if __name__ == "__main__":
    main()
