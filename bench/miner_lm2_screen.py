"""Design data (a screen, not a rule): do a language model's rows rank corrections? Out-of-fold AUC / AP of a probe
(PCA(16) fitted in each training fold, standardised, balanced logistic regression) over GroupKFold(5) by author, on
the turns every given pickle has rows for; the zero-shot log-odds alone; and the probe beside the shipped recipe's
leave-one-author-out logit (from a `bench/miner_cv.py --union --predictions` file) where given.

    python bench/miner_lm2_screen.py --rows smol=/x/lm-rows.pkl:H --rows qwen16=/y/rows.pkl:H16 \
        --zs qwen=/y/rows.pkl --predictions /z/pred.jsonl:AB
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import offline_one_thread  # noqa: E402

offline_one_thread()

import numpy as np  # noqa: E402

import miner_lm_features as base  # noqa: E402

TARGET = "reattempt_with_feedback"


def probe_oof(X, y, groups, extra=None, k=5, comps=16, seed=0, prescale=False):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    oof = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=k).split(y, y, groups):
        parts_tr, parts_te = [], []
        if X is not None:
            pre = StandardScaler(with_std=prescale).fit(X[tr])  # each dimension standardised first if prescale
            pca = PCA(n_components=comps, random_state=seed).fit(pre.transform(X[tr]))
            parts_tr.append(pca.transform(pre.transform(X[tr])))
            parts_te.append(pca.transform(pre.transform(X[te])))
        if extra is not None:
            parts_tr.append(extra[tr, None])
            parts_te.append(extra[te, None])
        a, b = np.hstack(parts_tr), np.hstack(parts_te)
        sc = StandardScaler().fit(a)
        lr = LogisticRegression(class_weight="balanced", max_iter=2000).fit(sc.transform(a), y[tr])
        oof[te] = lr.decision_function(sc.transform(b))
    return oof


def boot(scores: dict, y, groups, n: int) -> None:
    """Author bootstrap of each score's AUC minus the first's (the out-of-fold scores fixed, authors resampled)."""
    from sklearn.metrics import roc_auc_score

    names = list(scores)
    if len(names) < 2:
        return
    rng = np.random.default_rng(0)
    authors = sorted(set(groups))
    idx = {a: np.flatnonzero(groups == a) for a in authors}
    diffs = {k: [] for k in names[1:]}
    for _ in range(n):
        pick = np.concatenate([idx[a] for a in rng.choice(authors, len(authors))])
        if y[pick].min() == y[pick].max():
            continue
        a0 = roc_auc_score(y[pick], scores[names[0]][pick])
        for k in names[1:]:
            diffs[k].append(roc_auc_score(y[pick], scores[k][pick]) - a0)
    for k, d in diffs.items():
        lo, hi = np.percentile(d, [5, 95])
        print(f"  AUC {k} - {names[0]}: {np.mean(d):+.3f} [90% author bootstrap {lo:+.3f}, {hi:+.3f}]")


def main() -> None:
    from miner.classify.dataset import POINTERS_TEXT
    from sklearn.metrics import average_precision_score, roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", action="append", default=[], metavar="NAME=PICKLE:FIELD")
    ap.add_argument("--zs", action="append", default=[], metavar="NAME=PICKLE[:FIELD]")
    ap.add_argument("--predictions", help="JSONL:RECIPE, the shipped recipe's out-of-fold p_correction")
    ap.add_argument("--labels", default=str(ROOT / "data" / "labels"))
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--pointers-text", default=str(POINTERS_TEXT))
    ap.add_argument("--comps", type=int, default=16, help="PCA components of each probe")
    ap.add_argument("--prescale", action="store_true", help="standardise each dimension before the PCA (a model "
                    "with a few huge activation dimensions, gemma)")
    ap.add_argument("--boot", type=int, default=0, help="author bootstrap of AUC differences vs the first --rows")
    args = ap.parse_args()

    examples = base.turns_of(Path(args.labels), Path(args.corpora), Path(args.pointers_text))
    lab = {base.key(e): e.label == TARGET for e in examples}
    cache: dict[str, dict] = {}

    def load(p):
        if p not in cache:
            cache[p] = pickle.loads(Path(p).read_bytes())
        return cache[p]

    specs = []
    for s in args.rows:
        name, rest = s.split("=", 1)
        p, field = rest.rsplit(":", 1)
        specs.append(("rows", name, load(p), field))
    for s in args.zs:
        name, rest = s.split("=", 1)
        p, field = (rest.rsplit(":", 1) if rest.count(":") else (rest, "zs"))
        specs.append(("zs", name, load(p), field))
    keys = set(lab)
    for _, _, rows, field in specs:
        keys &= {k for k, v in rows.items() if field in v and not (field.startswith("zs") and math.isnan(v[field]))}
    pred = None
    if args.predictions:
        path, recipe = args.predictions.rsplit(":", 1)
        pred = {}
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            if r["recipe"] == recipe and r["p_correction"] is not None:
                p = min(max(r["p_correction"], 1e-6), 1 - 1e-6)
                pred[(r["author"], r["session"], r["msg_id"])] = math.log(p / (1 - p))
    keys = sorted(keys)
    y = np.array([lab[k] for k in keys], dtype=int)
    groups = np.array([k[0] for k in keys])
    print(f"{len(keys)} turns, {len(set(groups))} authors, {int(y.sum())} corrections ({y.mean():.3f})")
    scores = {}
    for kind, name, rows, field in specs:
        if kind == "rows":
            X = np.stack([rows[k][field] for k in keys]).astype(np.float64)
            scores[f"probe {name}"] = probe_oof(X, y, groups, comps=args.comps, prescale=args.prescale)
        else:
            scores[f"zero-shot {name}"] = np.array([rows[k][field] for k in keys])
    for n, s in scores.items():
        auc = roc_auc_score(y, s)
        print(f"  {n:28s} AUC {auc:.3f}{' (inverted: ' + format(1 - auc, '.3f') + ')' if auc < 0.5 else ''}  "
              f"AP {average_precision_score(y, s):.3f}")
    if args.boot:
        boot(scores, y, groups, args.boot)
    if pred is not None:
        sub = [i for i, k in enumerate(keys) if k in pred]
        ks = [keys[i] for i in sub]
        ys, gs = y[sub], groups[sub]
        ab = np.array([pred[k] for k in ks])
        print(f"stacked beside the shipped recipe's out-of-fold logit: {len(sub)} turns, {len(set(gs))} authors, "
              f"{int(ys.sum())} corrections")
        print(f"  {'shipped logit alone':28s} AUC {roc_auc_score(ys, ab):.3f}  AP {average_precision_score(ys, ab):.3f}")
        s0 = probe_oof(None, ys, gs, extra=ab)
        print(f"  {'refit on logit alone':28s} AUC {roc_auc_score(ys, s0):.3f}  AP {average_precision_score(ys, s0):.3f}")
        stacked = {}
        for kind, name, rows, field in specs:
            if kind == "rows":
                X = np.stack([rows[k][field] for k in ks]).astype(np.float64)
                s = probe_oof(X, ys, gs, extra=ab, comps=args.comps, prescale=args.prescale)
            else:
                z = np.array([rows[k][field] for k in ks])
                from sklearn.linear_model import LogisticRegression  # two columns: logit and zs
                from sklearn.model_selection import GroupKFold
                s = np.zeros(len(ys))
                Z = np.c_[ab, z]
                for tr, te in GroupKFold(5).split(Z, ys, gs):
                    m, sd = Z[tr].mean(0), Z[tr].std(0) + 1e-9
                    lr = LogisticRegression(class_weight="balanced").fit((Z[tr] - m) / sd, ys[tr])
                    s[te] = lr.decision_function((Z[te] - m) / sd)
            print(f"  {'logit + ' + name:28s} AUC {roc_auc_score(ys, s):.3f}  AP {average_precision_score(ys, s):.3f}")
            stacked["logit + " + name] = s
        if args.boot:
            boot(stacked, ys, gs, args.boot)


if __name__ == "__main__":
    main()
