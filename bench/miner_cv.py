"""How well the learned miner labels people it has never seen: leave-one-author-out on the dev labels.

    python bench/miner_cv.py             # in-sample and leave-one-author-out, per author and pooled
    python bench/miner_cv.py --curve     # + the learning curve: 0/10/25/50 of an author's own labels added
    python bench/miner_cv.py --no-external   # only the shared corpora's dev labels (as before data/labels/)

An author is a source repository (SOURCES.md). Leave-one-author-out: each author's turns are
labelled by a model fitted (hyperparameters included) without any of that author's turns. In-sample:
the shipped recipe fitted on every author, scored on the same turns (an upper bound). The heuristic
backend on the same turns is the baseline; its cue weights were written reading labels-dev.jsonl,
so on those authors it is in-sample too. "wild-dev" pools the authors of labels-wild-dev.jsonl,
which neither the heuristic nor the cue weights ever saw: the figure closest to a new user.
"external" pools the authors of the repository's own label files (data/labels/external-*.jsonl).
Reliability: confidence against accuracy on the cross-validated labels the regression gave.
Learning curve: for each author with enough labels, the model fitted without the author is
fine-tuned (as `vault mine --fit` does) on k of that author's labelled turns drawn at random
(seeded) and scored on the author's other turns; F1 of correction detection per k.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One BLAS thread: the cross-validation is thousands of small fits; on a shared machine threads only
# contend (measured: the refit took 12 s with one thread, 5 min with the default under load 12).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CURVE_K = (0, 10, 25, 50)
CURVE_MIN_TEST = 20  # an author enters the curve at k when at least this many of its turns remain to score
CURVE_REPEATS = 3


def fmt(c: dict) -> str:
    f = lambda x: "  —" if x is None else f"{x:.2f}"  # noqa: E731
    return f"P {f(c['precision'])}  R {f(c['recall'])}  F1 {f(c['f1'])}  (tp {c['tp']}, fp {c['fp']}, fn {c['fn']})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--curve", action="store_true", help="also the learning curve (slower)")
    ap.add_argument("--json", dest="json_out", help="write the figures to this file too")
    ap.add_argument("--no-external", action="store_true", help="leave out data/labels/external-*.jsonl")
    args = ap.parse_args()

    from miner.classify.heuristic import HeuristicClassifier
    from miner.classify.train import corpus_data, cross_validate, fit, predict, reliability, scores

    with tempfile.TemporaryDirectory(prefix="miner-cv-") as tmp:
        examples, E = corpus_data(Path(args.corpora), Path(tmp), external=not args.no_external)
    groups = {"wild-dev": {e.author for e in examples if e.file.startswith("wild/")},
              "external": {e.author for e in examples if e.file.startswith("external-")}}
    out: dict = {"examples": len(examples), "authors": len({e.author for e in examples}),
                 "corrections": sum(e.label == "reattempt_with_feedback" for e in examples)}
    print(f"{out['examples']} labelled human-side turns by {out['authors']} authors, "
          f"{out['corrections']} corrections")

    loao = cross_validate(examples, E)
    insample = predict(fit(examples, E), examples, E)
    heuristic = HeuristicClassifier().label([e.turn for e in examples])
    rows = {"leave-one-author-out": loao, "in-sample (upper bound)": insample, "heuristic (baseline)": heuristic}
    for name, labels in rows.items():
        s = scores(examples, labels)
        out[name] = {"pooled": s["pooled"]["correction"], "macro_f1": s["pooled"]["macro_f1"],
                     "authors": {a: v["correction"] for a, v in s["authors"].items()}}
        print(f"\n{name}\n  pooled    {fmt(s['pooled']['correction'])}  macro-F1 {s['pooled']['macro_f1']:.2f}")
        for group, members in groups.items():
            if not members:
                continue
            g = scores([e for e in examples if e.author in members],
                       [lab for e, lab in zip(examples, labels, strict=True) if e.author in members])
            out[name][group.replace("-", "_")] = g["pooled"]["correction"]
            print(f"  {group:9s} {fmt(g['pooled']['correction'])}  ({len(members)} authors)")
        if labels is loao:
            for a, v in s["authors"].items():
                print(f"    {a:45s} n={v['messages']:3d}  {fmt(v['correction'])}")
    rel = reliability(examples, loao)
    out["reliability_loao"] = rel
    print(f"\nreliability (leave-one-author-out, {rel['n']} turns the regression labelled): ECE {rel['ece']}")
    for b in rel["bins"]:
        print(f"  confidence {b['bin']}: n={b['n']:3d}  mean confidence {b['confidence']:.2f}  "
              f"accuracy {b['accuracy']:.2f}")
    if args.curve:
        out["learning_curve"] = curve(examples, E)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1, default=str))


def curve(examples, E) -> dict:
    """LOAO F1 of correction detection with k of the held-out author's own labels added (fine-tuning)."""
    import numpy as np

    from miner.classify.learned import feature_matrix
    from miner.classify.train import fit, finetune, predict, scores

    X = feature_matrix([e.turn for e in examples])
    authors = np.asarray([e.author for e in examples])
    result: dict = {}
    print("\nlearning curve: correction F1 on the author's other turns, with k of its labels added")
    for a in sorted(set(authors.tolist())):
        idx = np.flatnonzero(authors == a)
        if len(idx) < CURVE_K[1] + CURVE_MIN_TEST:
            continue
        rest = np.flatnonzero(authors != a)
        base = fit([examples[i] for i in rest], E[rest], X=X[rest])
        result[a] = {}
        for k in CURVE_K:
            if len(idx) - k < CURVE_MIN_TEST:
                continue
            f1s = []
            for r in range(CURVE_REPEATS if k else 1):
                rng = random.Random(f"{a}:{k}:{r}")
                own = sorted(rng.sample(list(idx), k))
                test = [i for i in idx if i not in set(own)]
                model = finetune(base, [examples[i] for i in own], E[own], X[own]) if k else base
                labels = predict(model, [examples[i] for i in test], E[test], X[test])
                c = scores([examples[i] for i in test], labels)["pooled"]["correction"]
                f1s.append(c["f1"] or 0.0)
            result[a][k] = round(sum(f1s) / len(f1s), 3)
        print(f"  {a:45s} n={len(idx):3d}  " + "  ".join(f"k={k}: {v:.2f}" for k, v in result[a].items()))
    return result


if __name__ == "__main__":
    main()
