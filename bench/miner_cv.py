"""How well the learned miner labels people it has never seen: leave-one-author-out on the dev labels.

    python bench/miner_cv.py             # in-sample and leave-one-author-out, per author and pooled
    python bench/miner_cv.py --curve     # + the learning curve: 0/10/25/50 of an author's own labels added
    python bench/miner_cv.py --no-external   # only the shared corpora's dev labels (as before data/labels/)
    python bench/miner_cv.py --variant trees --variant no-shape   # other recipes, leave-one-author-out
    python bench/miner_cv.py --variant all   # every variant of miner/classify/variants.py (docs/mining.md table)
    python bench/miner_cv.py --also data/labels/not-in-model   # + those label files as more training authors

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
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import cached, content_key, offline_one_thread  # noqa: E402

offline_one_thread()  # one BLAS thread (its docstring says why), before numpy loads

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
    ap.add_argument("--variant", action="append", default=[],
                    help="a variant of miner/classify/variants.py (repeatable; 'all' for every one) instead of "
                         "the shipped recipe's report")
    ap.add_argument("--reference", help="with --variant: the shipped recipe's counts from this earlier --json "
                                        "instead of running it again")
    ap.add_argument("--base", default="shipped", help="with --variant: the variant the F1 change is measured "
                                                       "from (default: the shipped recipe)")
    ap.add_argument("--held-out", help="with --variant: also fit each variant on all the labelled turns and score "
                                       "the label files of this folder (authors not in training, e.g. "
                                       "data/labels/not-in-model)")
    ap.add_argument("--also", action="append", default=[],
                    help="a folder whose external-*.jsonl label files join the labelled turns (repeatable; e.g. "
                         "data/labels/not-in-model to measure training on them)")
    ap.add_argument("--labels", help="the folder of the external label files (default data/labels; e.g. another "
                                     "branch's copy, exported with git archive)")
    ap.add_argument("--cache", help="keep the labelled turns and their embeddings in this pickle between runs "
                                    "(rebuilt when a label file changes)")
    ap.add_argument("--sweep", help="with --variant: also each variant's leave-one-author-out figures at these "
                                    "correction thresholds, comma-separated (the same fits, only the operating point "
                                    "moved)")
    args = ap.parse_args()

    from miner.classify.heuristic import HeuristicClassifier
    from miner.classify.train import cross_validate, fit, predict, reliability

    examples, E = load(args)
    out: dict = {"examples": len(examples), "authors": len({e.author for e in examples}),
                 "corrections": sum(e.label == "reattempt_with_feedback" for e in examples)}
    print(f"{out['examples']} labelled human-side turns by {out['authors']} authors, "
          f"{out['corrections']} corrections")
    if args.variant:
        sweep = tuple(float(x) for x in args.sweep.split(",")) if args.sweep else ()
        variants(examples, E, args.variant, args.reference, args.json_out, args.base, args.held_out, sweep)
        return

    loao = cross_validate(examples, E)
    insample = predict(fit(examples, E), examples, E)
    heuristic = HeuristicClassifier().label([e.turn for e in examples])
    rows = {"leave-one-author-out": loao, "in-sample (upper bound)": insample, "heuristic (baseline)": heuristic}
    for name, labels in rows.items():
        out[name] = report(name, examples, labels, per_author=labels is loao)
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


def load(args) -> tuple[list, object]:
    """The labelled turns and their embedding rows (from `--cache` when it holds the same label files)."""
    from miner.classify.dataset import DEV_LABEL_FILES, EXTERNAL_DIR, EXTERNAL_GLOB
    from miner.classify.train import corpus_data

    files = [Path(args.corpora) / f for f in DEV_LABEL_FILES]
    labels = Path(args.labels) if getattr(args, "labels", None) else EXTERNAL_DIR
    files += [] if args.no_external else sorted(labels.glob(EXTERNAL_GLOB))
    also = [p for d in getattr(args, "also", []) for p in sorted(Path(d).glob(EXTERNAL_GLOB))]
    files += also

    def build():
        with tempfile.TemporaryDirectory(prefix="miner-cv-") as tmp:
            return corpus_data(Path(args.corpora), Path(tmp), external=not args.no_external, also=also,
                               labels=labels)

    return cached(args.cache, content_key(files), build)


def groups_of(examples) -> dict[str, set[str]]:
    """Author groups reported apart: the wild-dev authors, the repository's external label files' authors."""
    return {"wild-dev": {e.author for e in examples if e.file.startswith("wild/")},
            "external": {e.author for e in examples if e.file.startswith("external-")}}


def report(name: str, examples, labels, per_author: bool) -> dict:
    """Print and return correction P/R/F1 pooled, per group and (`per_author`) per author: every author
    the data holds, so a new label file's authors appear without a change here."""
    from miner.classify.train import scores

    s = scores(examples, labels)
    out = {"pooled": s["pooled"]["correction"], "macro_f1": s["pooled"]["macro_f1"],
           "authors": {a: v["correction"] for a, v in s["authors"].items()}}
    print(f"\n{name}\n  pooled    {fmt(s['pooled']['correction'])}  macro-F1 {s['pooled']['macro_f1']:.2f}")
    for group, members in groups_of(examples).items():
        if not members:
            continue
        g = scores([e for e in examples if e.author in members],
                   [lab for e, lab in zip(examples, labels, strict=True) if e.author in members])
        out[group.replace("-", "_")] = g["pooled"]["correction"]
        print(f"  {group:9s} {fmt(g['pooled']['correction'])}  ({len(members)} authors)")
    if per_author:
        for a, v in s["authors"].items():
            print(f"    {a:45s} n={v['messages']:3d}  {fmt(v['correction'])}")
    return out


def variants(examples, E, names: list[str], reference: str | None = None, json_out: str | None = None,
             base: str = "shipped", held_out_dir: str | None = None, sweep: tuple[float, ...] = ()) -> dict:
    """Leave-one-author-out of each named variant: figures, calibration, CPU time, and the change of pooled
    F1 from the shipped recipe with a 90% interval from resampling authors (the noise of 19 folds).

    `reference`: a JSON written by an earlier `--variant` run whose `shipped` counts serve as the baseline
    (the shipped recipe is then not run again); `json_out` is rewritten after each variant."""
    import time

    from miner.classify.learned import feature_matrix
    from miner.classify.train import reliability, scores
    from miner.classify.variants import VARIANTS, run

    X = feature_matrix([e.turn for e in examples])
    test = held_out_data(Path(held_out_dir)) if held_out_dir else None
    names = list(VARIANTS) if "all" in names else [n for n in names if n != base]
    out: dict = {}
    if reference:
        out[base] = json.loads(Path(reference).read_text())["variants"][base]
    else:
        names = [base] + [n for n in names if n != base]
    for name in names:
        t = time.process_time()
        labels, moved = loao_sweep(name, examples, E, X, sweep) if sweep else (run(name, examples, E, X), [])
        out[name] = report(f"variant {name}: {VARIANTS[name][0]} (leave-one-author-out)", examples, labels, True)
        out[name]["ece"] = reliability(examples, labels)["ece"]
        out[name]["counts"] = author_counts(examples, labels)
        delta = f1_change(out[base]["counts"], out[name]["counts"]) if name != base else None
        out[name]["f1_change"] = delta
        change = f"  pooled F1 change {delta[0]:+.3f}, 90% interval {delta[1]:+.3f} .. {delta[2]:+.3f}" if delta else ""
        print(f"  ECE {out[name]['ece']}  ({time.process_time() - t:.0f} s CPU){change}", flush=True)
        for th, labs in zip(sweep, moved, strict=True):
            groups = {"all": None, **groups_of(examples)}
            for g, members in groups.items():
                keep = [i for i, e in enumerate(examples) if members is None or e.author in members]
                c = scores([examples[i] for i in keep], [labs[i] for i in keep])["pooled"]["correction"]
                out[name].setdefault("sweep", {}).setdefault(g, {})[th] = c
                print(f"    at threshold {th:.2f}, {g:8s} {fmt(c)}")
        if test is not None:
            from miner.classify.variants import held_out

            labels = held_out(name, examples, E, X, *test)
            out[name]["held_out"] = report(f"variant {name} fitted on all, scored on {held_out_dir}", test[0], labels,
                                           True)
            out[name]["held_out"]["counts"] = author_counts(test[0], labels)
        if json_out:
            Path(json_out).write_text(json.dumps({"variants": out}, indent=1, default=str))
    return out


def loao_sweep(name: str, examples, E, X, thresholds: tuple[float, ...]) -> tuple[list, list[list]]:
    """Leave-one-author-out labels of variant `name` (as variants.run), and the labels the same fold models give
    at each correction threshold of `thresholds`."""
    import numpy as np

    from miner.classify.train import fit, predict
    from miner.classify.variants import VARIANTS

    _, fitter, kwargs, transform, embed = VARIANTS[name]
    X = transform(X) if transform else X
    E = E if embed else None
    authors = np.asarray([e.author for e in examples])
    out: list = [None] * len(examples)
    moved: list[list] = [[None] * len(examples) for _ in thresholds]
    for a in sorted(set(authors.tolist())):
        test, train = np.flatnonzero(authors == a), np.flatnonzero(authors != a)
        model = (fitter or fit)([examples[i] for i in train], None if E is None else E[train], X=X[train], **kwargs)
        ex, Et = [examples[i] for i in test], None if E is None else E[test]
        for k, th in [(None, None)] + list(enumerate(thresholds)):
            chosen = model.threshold
            if k is not None:
                model.threshold = th
            for i, lab in zip(test, predict(model, ex, Et, X[test]), strict=True):
                (out if k is None else moved[k])[i] = lab
            model.threshold = chosen
    return out, moved


def held_out_data(folder: Path) -> tuple[list, object, object]:
    """The examples of the label files in `folder` (external format), their embedding rows and feature rows."""
    import numpy as np

    from miner.classify.dataset import external_examples
    from miner.classify.learned import feature_matrix
    from miner.classify.vectors import embed

    examples = external_examples(folder)
    E = embed(None, [e.turn for e in examples])[0].astype(np.float64)
    return examples, E, feature_matrix([e.turn for e in examples])


def author_counts(examples, labels) -> dict[str, list[int]]:
    """(tp, fp, fn) of correction detection per author."""
    out: dict[str, list[int]] = {}
    for e, lab in zip(examples, labels, strict=True):
        gold, said = e.label == "reattempt_with_feedback", lab.label == "reattempt_with_feedback"
        c = out.setdefault(e.author, [0, 0, 0])
        c[0] += gold and said
        c[1] += said and not gold
        c[2] += gold and not said
    return out


def f1_change(base: dict, other: dict, draws: int = 2000) -> tuple[float, float, float]:
    """Pooled F1 of `other` minus `base`, and the 5th and 95th percentiles of that difference over
    resamplings of the authors with replacement (seeded): an author's turns move together."""
    import numpy as np

    authors = sorted(base)
    A = np.asarray([base[a] for a in authors], dtype=float)
    B = np.asarray([other[a] for a in authors], dtype=float)
    f1 = lambda c: 2 * c[..., 0] / np.maximum(2 * c[..., 0] + c[..., 1] + c[..., 2], 1)  # noqa: E731
    idx = np.random.default_rng(0).integers(0, len(authors), size=(draws, len(authors)))
    diff = f1(B[idx].sum(axis=1)) - f1(A[idx].sum(axis=1))
    return (round(float(f1(B.sum(axis=0)) - f1(A.sum(axis=0))), 3), round(float(np.percentile(diff, 5)), 3),
            round(float(np.percentile(diff, 95)), 3))


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
