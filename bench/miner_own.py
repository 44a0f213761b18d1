"""Two figures of `bench/miner_cv.py` about an author's *own* turns (run through it, not alone).

`same_authors` (`--same-authors`): the first corpora's held-back labels are other sessions by the authors the model
is trained on, so neither in-sample (their own turns in training) nor leave-one-author-out (none of them) estimates
that line. Here each of those authors' turns is labelled by the recipe fitted on every training turn except a part
of that author's own: one session (leave-one-session-out) or one of `BLOCKS` contiguous blocks of its turns in
session order (leave-one-block-out: more of its own turns kept, as the shipped fit keeps every labelled one).

`own_curve` (`--curve`): what a person gets from `vault mine --fit`. For each labelled author: its largest k is the
largest of `CURVE_K` that leaves at least `CURVE_MIN_TEST` of its turns to score (an author without k = 25 is left
out); the base model holds none of its turns (the shipped recipe fitted without it; for an author outside the
training set, the shipped fit itself); per draw its turns are shuffled, the first (largest k) are the labels it may
give, the rest are scored; k of those labels fine-tune the base exactly as `vault mine --fit` does (`train.finetune`,
the function `miner.mine.fit_own_model` calls). The scored turns are the same for every k of a draw, so the k's
differ only by the labels added. Pooled per cohort: the authors that reach k = 50, and all that reach k = 25.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

BLOCKS = 5
CURVE_K = (0, 10, 25, 50)
CURVE_MIN_TEST = 10  # turns left to score in every draw
CURVE_DRAWS = 10
AS_BEFORE = "finetune at the base's threshold"  # the fine-tune before RULE10b (--curve-before), for comparison
LEAST_SURE = "finetune on the least sure"  # RULE30b (--curve-least-sure): the k of the pool the base is least sure of

_D: dict = {}  # examples, E, X for the fold workers (inherited by fork)


def _rows(E, rows):
    """The embedding rows of `rows` (None: a model without embeddings)."""
    return None if E is None else E[rows]


def _pool(jobs: int, fn, tasks: list) -> list:
    if jobs > 1:
        from multiprocessing import get_context

        with get_context("fork").Pool(jobs) as pool:
            return pool.starmap(fn, tasks, chunksize=1)
    return [fn(*t) for t in tasks]


def _counts(examples, labels) -> list[int]:
    """(tp, fp, fn) of correction detection, all authors together."""
    from miner_cv import author_counts

    per = author_counts(examples, labels).values()
    return [sum(c[j] for c in per) for j in range(3)]


def prf(c: Sequence[int]) -> dict:
    """Correction P/R/F1 (None where undefined) from (tp, fp, fn)."""
    p = c[0] / (c[0] + c[1]) if c[0] + c[1] else None
    r = c[0] / (c[0] + c[2]) if c[0] + c[2] else None
    return {"precision": p, "recall": r, "f1": 2 * c[0] / (2 * c[0] + c[1] + c[2]) if c[0] else 0.0,
            "tp": c[0], "fp": c[1], "fn": c[2]}


def _fmt(c: dict) -> str:
    f = lambda x: "  —" if x is None else f"{x:.2f}"  # noqa: E731
    return f"P {f(c['precision'])}  R {f(c['recall'])}  F1 {f(c['f1'])}  (tp {c['tp']}, fp {c['fp']}, fn {c['fn']})"


# -- the first corpora's held-back line ------------------------------------------------------------------------

def _fold(held: list[int], thresholds: tuple[float, ...], in_sample: bool = False):
    """Labels of the `held` rows by the shipped recipe fitted on every other row (`in_sample`: on every row), at its
    operating point, at the threshold its inner cross-validation chose (learned-6's) and at each of `thresholds`; and
    that inner choice."""
    from miner.classify.train import fit, predict

    ex, E, X = _D["examples"], _D["E"], _D["X"]
    out = set() if in_sample else set(held)
    rows = [i for i in range(len(ex)) if i not in out]
    model = fit([ex[i] for i in rows], _rows(E, rows), X=X[rows])
    inner = model.data["trained_on"].get("inner_threshold", model.threshold)
    labs = []
    for th in (model.threshold, inner, *thresholds):
        model.threshold = th
        labs.append(predict(model, [ex[i] for i in held], _rows(E, held), X[held]) if held else [])
    return held, labs, inner


def same_authors(examples, E, X, authors: set[str], thresholds: tuple[float, ...], jobs: int) -> dict:
    """Correction P/R/F1 on `authors` (the first corpora) by four schemes, each at the recipe's operating point and
    at `thresholds`: in-sample (the fit on everything), leave-one-block-out, leave-one-session-out,
    leave-one-author-out. Every other author's turns stay in every fit."""
    import numpy as np

    _D.update(examples=examples, E=E, X=X)
    mine = {a: sorted((i for i, e in enumerate(examples) if e.author == a),
                      key=lambda i: (examples[i].turn.session_id, examples[i].turn.position)) for a in sorted(authors)}
    schemes: dict[str, list[list[int]]] = {
        "in-sample (upper bound)": [[i for a in mine for i in mine[a]]],
        f"leave-one-block-out ({BLOCKS} contiguous blocks an author)":
            [b.tolist() for a in mine for b in np.array_split(np.asarray(mine[a]), min(BLOCKS, len(mine[a])))],
        "leave-one-session-out": [[i for i in mine[a] if examples[i].turn.session_id == s] for a in mine
                                  for s in sorted({examples[i].turn.session_id for i in mine[a]})],
        "leave-one-author-out (floor)": [mine[a] for a in mine],
    }
    out: dict = {}
    for name, folds in schemes.items():
        if name.startswith("in-sample"):
            results = [_fold(folds[0], thresholds, in_sample=True)]
        else:
            results = _pool(jobs, _fold, [(f, thresholds) for f in folds])
        ths = ("operating", "inner", *thresholds)
        labels = {th: [None] * len(examples) for th in ths}
        inner = []
        for held, labs, chosen in results:
            inner.append(chosen)
            for th, lab in zip(ths, labs, strict=True):
                for i, x in zip(held, lab, strict=True):
                    labels[th][i] = x
        rows = [i for a in mine for i in mine[a]]
        r = out[name] = {"folds": len(folds), "inner_thresholds": sorted(map(float, inner)), "at": {}, "authors": {}}
        print(f"\n{name}: {len(folds)} fits; inner thresholds chosen {sorted(map(float, inner))}", flush=True)
        for th in ths:
            c = prf(_counts([examples[i] for i in rows], [labels[th][i] for i in rows]))
            r["at"][str(th)] = c
            print(f"  at {th if isinstance(th, str) else f'{th:.2f}':9}  {_fmt(c)}")
        for a in mine:
            r["authors"][a] = {str(th): _counts([examples[i] for i in mine[a]], [labels[th][i] for i in mine[a]])
                               for th in ths}
    return out


# -- the per-person learning curve -----------------------------------------------------------------------------

def _curve_author(author: str, trained: bool):
    """Per draw and k: (tp, fp, fn) on the author's scored turns; the base holds none of its turns."""
    from miner.classify.learned import shipped_model
    from miner.classify.train import finetune, fit, predict

    ex, E, X = _D["examples"], _D["E"], _D["X"]
    idx = [i for i, e in enumerate(ex) if e.author == author]
    if trained and _D.get("base_fit"):
        base = _D["base_fit"](author)
    elif trained:
        rows = [i for i, e in enumerate(ex) if e.author in _D["train"] and e.author != author]
        base = fit([ex[i] for i in rows], _rows(E, rows), X=X[rows])
    else:
        base = shipped_model()
    n_own = max_k(len(idx))
    draws: dict[str, list] = {v: [] for v in _D.get("variants", ("finetune",))}
    sure = dict(zip(idx, (lab.confidence for lab in predict(base, [ex[i] for i in idx], _rows(E, idx), X[idx])),
                    strict=True)) if LEAST_SURE in draws else {}
    for d in range(CURVE_DRAWS):
        order = list(idx)
        random.Random(f"{author}:{d}").shuffle(order)
        pool, test = order[:n_own], sorted(order[n_own:])
        # which k of the pool are labelled: the first k drawn, or (LEAST_SURE) the k the base is least sure of
        picks = {v: least_sure(pool, sure) if v == LEAST_SURE else pool for v in draws}
        per_k: dict[str, dict] = {v: {} for v in draws}
        for k in (k for k in CURVE_K if k <= n_own):
            models: dict[tuple, object] = {}
            for v in draws:
                own = tuple(sorted(picks[v][:k]))
                if own not in models:
                    models[own] = finetune(base, [ex[i] for i in own], _rows(E, list(own)), X[list(own)]) if k else base
                model = models[own]
                threshold = model.threshold
                if k and v == AS_BEFORE:  # before RULE10b: the fine-tuned model kept the base's operating threshold
                    model.threshold = base.threshold
                per_k[v][k] = _counts([ex[i] for i in test],
                                      predict(model, [ex[i] for i in test], _rows(E, test), X[test]))
                model.threshold = threshold
        for v in draws:
            draws[v].append(per_k[v])
    return author, len(idx), draws


def least_sure(pool: list[int], confidence: dict[int, float]) -> list[int]:
    """The pool ordered as RULE30b's candidate would show turns to label: the lowest confidence of the label the base
    gave first, ties in pool order."""
    return sorted(pool, key=lambda i: confidence[i])


def max_k(n: int) -> int:
    """The largest k of CURVE_K that leaves CURVE_MIN_TEST of an author's `n` turns to score (-1: none)."""
    return max((k for k in CURVE_K if n - k >= CURVE_MIN_TEST), default=-1)


def own_curve(examples, E, X, train: set[str], jobs: int, variants: tuple[str, ...] = ("finetune",),
              base_fit=None) -> dict:
    """The learning curve of every author that reaches k = 25 (module docstring), per author and pooled per cohort;
    `variants`: "finetune" (vault mine --fit as it is) and AS_BEFORE (learned-7's fine-tune before RULE10b), from the
    same draws. `train`: the shipped model's training authors; `base_fit(author)`: the shipped recipe fitted without
    that author (default: train.fit on the other training authors' rows, the recipe before learned-9)."""
    _D.update(examples=examples, E=E, X=X, train=train, variants=variants, base_fit=base_fit)
    n: dict[str, int] = {}
    for e in examples:
        n[e.author] = n.get(e.author, 0) + 1
    authors = sorted(a for a, k in n.items() if max_k(k) >= 25)
    print(f"\nlearning curve: {len(authors)} authors reach k = 25 (>= {25 + CURVE_MIN_TEST} labelled turns), "
          f"{sum(max_k(n[a]) >= 50 for a in authors)} reach k = 50; per draw ({CURVE_DRAWS}) its largest k of its "
          f"turns may be given as labels, the rest scored; k of them fine-tune (train.finetune, as vault mine --fit) "
          f"a base fitted without the author", flush=True)
    results = _pool(jobs, _curve_author, [(a, a in train) for a in authors])
    return {v: _curve_report(examples, n, train, [(a, size, draws[v]) for a, size, draws in results], v)
            for v in variants}


def _curve_report(examples, n: dict[str, int], train: set[str], results: list, variant: str) -> dict:
    import numpy as np

    print(f"\n{variant}:")
    out: dict = {"authors": {}, "pooled": {}}
    for a, size, draws in results:
        gold = sum(e.label == "reattempt_with_feedback" for e in examples if e.author == a)
        row = out["authors"][a] = {"turns": size, "corrections": gold, "in_training": a in train,
                                   "scored_per_draw": size - max_k(size), "k": {}, "counts": {}}
        line = []
        for k in draws[0]:
            c = np.sum([d[k] for d in draws], axis=0).tolist()
            row["counts"][k] = c
            row["k"][k] = {**prf(c), "f1_draws": [round(float(prf(d[k])["f1"]), 3) for d in draws]}
            line.append(f"k={k}: F1 {row['k'][k]['f1']:.2f} (P {_f(row['k'][k]['precision'])} "
                        f"R {_f(row['k'][k]['recall'])})")
        print(f"  {a:42s} n={size:3d} corr={gold:3d}{' (trained)' if a in train else ''}  " + "  ".join(line),
              flush=True)
    for cohort in (50, 25):
        members = [a for a in out["authors"] if max_k(n[a]) >= cohort]
        for k in (k for k in CURVE_K if k <= cohort):
            c = np.sum([out["authors"][a]["counts"][k] for a in members], axis=0).tolist()
            out["pooled"].setdefault(cohort, {"authors": members})[k] = prf(c)
            print(f"  pooled, the {len(members)} authors reaching k = {cohort}: k={k:2d}  {_fmt(prf(c))}")
    return out


def _f(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def curve_change(curve: dict, base: str, other: str, ks: tuple[int, ...] = (10, 25), draws: int = 2000) -> dict:
    """D = mean over the authors and over `ks` of the per-author F1 (draws summed) of `other` minus `base`'s, with
    its 90% and 95% percentile intervals over resamplings of the authors (seeded); against k = 0 too; the k = 50
    cohort's pooled F1 at 50 of both; whether k = 0 gives the same counts (RULE15's form, RULE16-17)."""
    import numpy as np

    A, B = curve[base]["authors"], curve[other]["authors"]
    authors = sorted(A)
    f1 = lambda c: prf(c)["f1"]  # noqa: E731

    def per_author(ref, ref_k=None):
        return np.asarray([np.mean([f1(B[a]["counts"][k]) - f1(ref[a]["counts"][ref_k if ref_k is not None else k])
                                    for k in ks]) for a in authors])

    idx = np.random.default_rng(0).integers(0, len(authors), size=(draws, len(authors)))
    out: dict = {}
    for name, d in ((f"{other} - {base}", per_author(A)), (f"{other} - k=0", per_author(B, 0))):
        boot = d[idx].mean(axis=1)
        out[name] = {"D": round(float(d.mean()), 4),
                     "90%": [round(float(np.percentile(boot, q)), 4) for q in (5, 95)],
                     "95%": [round(float(np.percentile(boot, q)), 4) for q in (2.5, 97.5)],
                     "per_author": {a: round(float(x), 3) for a, x in zip(authors, d, strict=True)}}
        print(f"\n{name}: D {out[name]['D']:+.4f}, 90% {out[name]['90%']}, 95% {out[name]['95%']}", flush=True)
    p50 = {v: curve[v]["pooled"].get(50, {}).get(50, {}).get("f1") for v in (base, other)}
    same0 = all(A[a]["counts"][0] == B[a]["counts"][0] for a in authors)
    out.update({"k50_pooled_f1": p50, "k0_same": same0})
    print(f"  k = 50 cohort pooled F1 at 50: {p50}; k = 0 same counts: {same0}", flush=True)
    return out
