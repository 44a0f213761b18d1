"""How well the learned miner labels people it has never seen: leave-one-author-out on the dev labels.

    python bench/miner_cv.py             # in-sample and leave-one-author-out, per author and pooled
    python bench/miner_cv.py --curve --jobs 2   # the learning curve: 0/10/25/50 of an author's own labels added
        # (vault mine --fit's fine-tuning), every labelled author with >= 60 turns (bench/miner_own.py)
    python bench/miner_cv.py --same-authors --sweep 0.2,0.35   # the first corpora's authors scored on their own
        # other sessions / blocks (their held-back line), beside in-sample and leave-one-author-out
    python bench/miner_cv.py --no-external   # only the shared corpora's dev labels (as before data/labels/)
    python bench/miner_cv.py --variant trees --variant no-shape   # other recipes, leave-one-author-out
    python bench/miner_cv.py --variant all   # every variant of miner/classify/variants.py (docs/mining.md table)
    python bench/miner_cv.py --also data/labels/not-in-model   # + those label files as more training authors
    python bench/miner_cv.py --operating-points 0.2,0.35   # LOAO precision/recall per threshold (fast, non-nested)
    python bench/miner_cv.py --variant th-0.2 --base learned-6 --sweep 0.2,0.3   # + each variant at other thresholds
    python bench/miner_cv.py --union --jobs 2 --sweep 0.2,0.3 --author-curve   # training set A (data/labels) against
        # B (+ not-in-model/), both scored on every labelled author (+ pointers-only/); the curve over training authors
    python bench/miner_cv.py --union --recipes A,B10 --group judge=FILE --hold-out-group judge \
        --curve-on "all but judge:judge:19,40,80,151"   # the judge authors out of every training set (RULE25's
        # B10x); the curve over k authors drawn from a chosen pool, scored on a chosen group

An author is a source repository (SOURCES.md). Leave-one-author-out: each author's turns are
labelled by a model fitted (hyperparameters included) without any of that author's turns. In-sample:
the shipped recipe fitted on every author, scored on the same turns (an upper bound). The heuristic
backend on the same turns is the baseline; its cue weights were written reading labels-dev.jsonl,
so on those authors it is in-sample too. "wild-dev" pools the authors of labels-wild-dev.jsonl,
which neither the heuristic nor the cue weights ever saw: the figure closest to a new user.
"external" pools the authors of the repository's own label files (data/labels/external-*.jsonl).
Reliability: confidence against accuracy on the cross-validated labels the regression gave.
Learning curve and the first corpora's own other sessions: bench/miner_own.py.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import cached, content_key, offline_one_thread  # noqa: E402

offline_one_thread()  # one BLAS thread (its docstring says why), before numpy loads


def fmt(c: dict) -> str:
    f = lambda x: "  —" if x is None else f"{x:.2f}"  # noqa: E731
    return f"P {f(c['precision'])}  R {f(c['recall'])}  F1 {f(c['f1'])}  (tp {c['tp']}, fp {c['fp']}, fn {c['fn']})"


def main() -> None:
    from miner.classify.dataset import POINTERS_TEXT

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--curve", action="store_true",
                    help="instead: the learning curve of every labelled author with enough turns (the union's "
                         "authors, as --union reads them), fine-tuned as vault mine --fit does")
    ap.add_argument("--curve-before", action="store_true",
                    help="with --curve: also the fine-tuned model at the base's operating threshold (as before RULE10b)")
    ap.add_argument("--curve-least-sure", action="store_true",
                    help="with --curve: also the fine-tune on the k turns of the label pool the base is least sure of "
                         "(RULE30b), against the first k drawn, D with its interval (miner_own.curve_change)")
    ap.add_argument("--same-authors", action="store_true",
                    help="instead: the first corpora's authors labelled by fits without one of their sessions / "
                         "blocks (their held-back line), in-sample and leave-one-author-out beside; --sweep thresholds")
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
    ap.add_argument("--operating-points", help="instead: leave-one-author-out precision/recall of the shipped "
                    "recipe at these correction thresholds, comma-separated, with its L2 strength and temperature "
                    "taken from one fit on all authors (fast: one regression per author, not nested)")
    ap.add_argument("--sweep", help="with --variant: also each variant's leave-one-author-out figures at these "
                                    "correction thresholds, comma-separated (the same fits, only the operating point "
                                    "moved)")
    ap.add_argument("--union", action="store_true",
                    help="instead: recipe A (trained on the training folder) against recipe B (the same + the "
                         "not-in-model/ authors), both scored on the union of every labelled author (training folder, "
                         "not-in-model/, pointers-only/ with --pointers-text): each author by a fit without it")
    ap.add_argument("--pointers-text", default=str(POINTERS_TEXT),
                    help="with --union: the pointers-only files with their text (outside the repository)")
    ap.add_argument("--unseen-cache", help="with --union: pickle of the not-in-model and pointers turns (as "
                                           "bench/miner_unseen.py --unseen-cache)")
    ap.add_argument("--jobs", type=int, default=1, help="with --union, --curve, --same-authors: folds fitted in this many processes")
    ap.add_argument("--recipes", help="with --union: these recipes, comma-separated, the last one the candidate "
                                      "(default A,A10,B10)")
    ap.add_argument("--lm-cache", help="with --union: pickle {(author, session_id, msg_id): {'H': vector, 'zs': float}} "
                                       "of the language-model features of RULE20's recipes A-lm / A-zs (built outside "
                                       "the repository by bench/miner_lm_features.py)")
    ap.add_argument("--reuse", help="with --union: recipes found in this earlier --union --json are read from it, not "
                                    "fitted again (the same caches and sweep; e.g. A, which reproduces to the count); "
                                    "authors outside training it did not score (new label files) are scored by the "
                                    "recipe's one fit on all training authors, fitted again, its other authors' counts "
                                    "compared with the earlier ones")
    ap.add_argument("--group", action="append", default=[], metavar="NAME=FILE",
                    help="with --union: also report the authors listed in FILE (one owner/name a line, # comments) as "
                         "the group NAME, and every other scored author as 'all but NAME' (repeatable; e.g. "
                         "fresh14=/work/team/fresh14.txt)")
    ap.add_argument("--author-curve", action="store_true",
                    help="with --union: also recall on the pointers authors against the number of training authors")
    ap.add_argument("--hold-out-group", action="append", default=[], metavar="NAME",
                    help="with --union: the authors of group NAME (a --group or a built-in group) are taken out of "
                         "every recipe's training set, so each is scored by its recipe's fit on all the rest "
                         "(repeatable; e.g. judge: B10 then trains on A's authors + the licensed ones outside judge)")
    ap.add_argument("--curve-on", action="append", default=[], metavar="POOL:TEST:K,K,...",
                    help="with --union: the author curve (as --author-curve) with its pool of training authors "
                         "POOL (a recipe's training set, after --hold-out-group, or a group), scored on group TEST "
                         "(pool members taken out of it), k authors drawn for each K (the whole pool once); "
                         "repeatable; e.g. 'all but judge:judge:19,40,80,151' or 'B10:judge:19,40,69'")
    ap.add_argument("--outside-only", action="store_true",
                    help="with --union: score only the authors outside each recipe's training set, by its one fit on "
                         "all of them (no leave-one-author-out folds): a quick figure on a held-out group")
    ap.add_argument("--predictions", help="with --union: write every scored turn of each recipe fitted here (not read by "
                                         "--reuse) to this JSONL file: recipe, author, file, session, msg_id, position, "
                                         "gold label, p(correction) (null where a rule decided), predicted label")
    args = ap.parse_args()

    sweep = tuple(float(x) for x in args.sweep.split(",")) if args.sweep else ()
    if args.union:
        union(args, sweep)
        return
    if args.curve or args.same_authors:
        own(args, sweep)
        return

    from miner.classify.heuristic import HeuristicClassifier
    from miner.classify.train import cross_validate, fit, predict, reliability

    examples, E = load(args)
    out: dict = {"examples": len(examples), "authors": len({e.author for e in examples}),
                 "corrections": sum(e.label == "reattempt_with_feedback" for e in examples)}
    print(f"{out['examples']} labelled human-side turns by {out['authors']} authors, "
          f"{out['corrections']} corrections")
    if args.operating_points:
        operating_points(examples, E, tuple(float(x) for x in args.operating_points.split(",")))
        return
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


def operating_points(examples, E, thresholds: tuple[float, ...]) -> dict:
    """Pooled leave-one-author-out P/R at each correction threshold: each author's turns scored by the regression
    fitted without it at the L2 strength the shipped recipe chooses on all authors, its temperature applied (as the
    backend decides); rules first. Not nested (L2 and temperature seen every author): a little optimistic."""
    import numpy as np

    from miner.classify.base import Label
    from miner.classify.learned import feature_matrix, rules
    from miner.classify.train import (BALANCE, CLASSES, TARGET, _logits, _raw_fit, _softmax, author_weights, fit,
                                      modelled, scores)

    model = fit(examples, E)
    n_plain = len(model.features)
    X = np.hstack([model.columns(feature_matrix([e.turn for e in examples])), E])
    keep = modelled(examples)
    y = np.asarray([CLASSES.index(TARGET.get(examples[i].label, examples[i].label)) for i in keep])
    authors = np.asarray([e.author for e in examples])
    w = author_weights(authors[keep], BALANCE)
    ruled = [rules(e.turn) for e in examples]
    rest = np.asarray([i for i, r in enumerate(ruled) if r is None])
    P = np.zeros((len(examples), len(CLASSES)))
    for a in sorted(set(authors.tolist())):
        tr = authors[keep] != a
        m = _raw_fit(X[keep][tr], y[tr], model.data["C"], n_plain, w[tr])
        rows = rest[authors[rest] == a]
        P[rows] = _softmax(_logits(m, X[rows]) / model.temperature)
    print(f"operating points, leave-one-author-out (C {model.data['C']}, temperature {model.temperature}, "
          f"shipped threshold {model.threshold})")
    out: dict = {}
    groups = {"all": None, **groups_of(examples)}
    for th in thresholds:
        model.threshold = th
        labels = list(ruled)
        for i, (lab, p) in zip(rest.tolist(), model.decide(P[rest]), strict=True):
            labels[i] = Label(lab, p, [])
        for g, members in groups.items():
            idx = [i for i, e in enumerate(examples) if members is None or e.author in members]
            c = scores([examples[i] for i in idx], [labels[i] for i in idx])["pooled"]["correction"]
            out.setdefault(g, {})[th] = c
            print(f"  threshold {th:.2f}  {g:8s} {fmt(c)}")
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
        if lab is None:  # not scored (--outside-only: a training author's turn)
            continue
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

    authors = sorted(set(base) & set(other))  # the authors both scored (--outside-only scores fewer)
    A = np.asarray([base[a] for a in authors], dtype=float)
    B = np.asarray([other[a] for a in authors], dtype=float)
    f1 = lambda c: 2 * c[..., 0] / np.maximum(2 * c[..., 0] + c[..., 1] + c[..., 2], 1)  # noqa: E731
    idx = np.random.default_rng(0).integers(0, len(authors), size=(draws, len(authors)))
    diff = f1(B[idx].sum(axis=1)) - f1(A[idx].sum(axis=1))
    return (round(float(f1(B.sum(axis=0)) - f1(A.sum(axis=0))), 3), round(float(np.percentile(diff, 5)), 3),
            round(float(np.percentile(diff, 95)), 3))


# -- one union of authors, two training sets (--union) ----------------------------------------------------------

_U: dict = {}  # the union's examples, embeddings, features, read by the fold workers (inherited by fork)


def union(args, sweep: tuple[float, ...]) -> dict:
    """Recipes A (training folder) and B (+ not-in-model/) scored on the same authors: every labelled author, each
    labelled by the recipe fitted without any of its turns (LOAO for its training authors, the whole-training fit
    for the others). Pooled and per group, F1 change B - A with its author-resampled interval, each recipe at the
    `sweep` thresholds (same fits), the thresholds the fold fits chose; `--author-curve` the curve over authors."""
    examples, authors_base, groups, licensed = union_data(args)
    scored = {e.author for e in examples}
    for spec in args.group:
        name, members, missing = read_group(spec, scored)
        if missing:
            print(f"group {name}: {len(missing)} listed authors have no scored turn here: {sorted(missing)}",
                  flush=True)
        groups[name], groups[f"all but {name}"] = members, scored - members
    print(f"union: {len(examples)} turns, {len({e.author for e in examples})} authors, "
          f"{sum(e.label == 'reattempt_with_feedback' for e in examples)} corrections; "
          + ", ".join(f"{g} {len(m)}" for g, m in groups.items()), flush=True)
    recipes = recipe_table(authors_base, set(licensed), groups["pointers"])
    names = args.recipes.split(",") if args.recipes else ["A", "A10", "B10"]
    unknown = [g for g in args.hold_out_group if g not in groups]
    if unknown:
        raise SystemExit(f"--hold-out-group: no group {unknown} (groups: {', '.join(groups)})")
    recipes = hold_out({n: recipes[n] for n in names}, {g: groups[g] for g in args.hold_out_group})
    out: dict = {"groups": {g: sorted(m) for g, m in groups.items()}, "recipes": {}}
    for name, (train, folds, fit_kw) in recipes.items():
        import time

        t = time.time()
        earlier = json.loads(Path(args.reuse).read_text())["recipes"] if args.reuse else {}
        if name in earlier:
            r = out["recipes"][name] = earlier[name]
            r["sweep"] = {float(k): v for k, v in r.get("sweep", {}).items()}
            print(f"\nrecipe {name}: read from {args.reuse}")
            new = scored - set(r["counts"]) - (train if args.outside_only else set())
            if new:
                extend_reused(r, train, new, sweep, folds, fit_kw,
                              (args.predictions, name, name == names[0]) if args.predictions else None)
            r["all"], r["groups"] = union_report(r["counts"], groups)
            for th in sweep:
                r["sweep"][th]["all"] = union_report(r["sweep"][th]["counts"], groups, quiet=True)[0]
            continue
        labels, moved, chosen, probs = union_labels(train, sweep, args.jobs, folds, fit_kw, args.outside_only)
        if args.predictions:
            write_predictions(args.predictions, name, examples, labels, probs, first=name == names[0])
        r = out["recipes"][name] = {"training_authors": len(train), "fold_thresholds": chosen,
                                    "counts": author_counts(examples, labels)}
        print(f"\nrecipe {name}: trained on {len(train)} authors ({time.time() - t:.0f} s wall); fold thresholds "
              f"{ {k: chosen.count(k) for k in sorted(set(chosen), key=str)} }")
        r["all"], r["groups"] = union_report(r["counts"], groups)
        for th, labs in zip(sweep, moved, strict=True):
            c = author_counts(examples, labs)
            r.setdefault("sweep", {})[th] = {"counts": c, "all": union_report(c, groups, quiet=True)[0]}
            print(f"    at threshold {th:.2f}: {fmt(r['sweep'][th]['all'])}")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(out, indent=1, default=str))
    last = names[-1]  # the candidate, against every recipe before it; every other recipe against the first too
    pairs = [(ref, last) for ref in names[:-1]] + [(names[0], r) for r in names[1:-1]]
    for ref, last in pairs:
        a, b = out["recipes"][ref]["counts"], out["recipes"][last]["counts"]
        d = out.setdefault("f1_change", {})[f"{last} - {ref}"] = {"all": f1_change(a, b)}
        print(f"\nF1 change {last} - {ref}, 90% interval from resampling authors:\n  all           {d['all']}")
        for g, members in groups.items():
            both = members & set(a) & set(b)  # --outside-only: the members both recipes scored
            if not both:  # e.g. pointers without their text on this machine
                continue
            d[g] = f1_change({k: a[k] for k in both}, {k: b[k] for k in both})
            print(f"  {g:13s} {d[g]}")
        for th in sweep:
            a, b = out["recipes"][ref]["sweep"][th]["counts"], out["recipes"][last]["sweep"][th]["counts"]
            d.setdefault("sweep", {})[th] = f1_change(a, b)
            print(f"  at {th:.2f}: all {d['sweep'][th]}")
    if args.author_curve and "B10" in recipes:
        out["author_curve"] = author_curve(recipes["B10"][0], groups["pointers"], UNION_INNER_FOLDS)
    def save() -> None:
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(out, indent=1, default=str))

    for spec in args.curve_on:  # the figures so far kept before each curve (a curve is minutes of fits)
        save()
        pool, test, ks = curve_spec(spec, recipes, groups)
        out.setdefault("author_curves", {})[spec] = author_curve(pool, test, UNION_INNER_FOLDS, ks, spec)
    save()
    return out


SHIPPED_RECIPE = "AB"  # the recipe of miner/classify/model.json (learned-9: train.shipped_fit), for "as shipped"


def recipe_table(authors_base: set[str], licensed: set[str], pointers: set[str] = frozenset()) -> dict[str, tuple]:
    """The --union recipes: name -> (training authors, the inner folds choosing L2/threshold/temperature: None one per
    author, as shipped, other arguments of train.fit / union_fit). `pointers`: the pointers-only people (their text is
    outside the repository, so no shipped model is fitted on them: U10 and AU only measure what they would add)."""
    recipes = {"A": (authors_base, None, {}), "A10": (authors_base, UNION_INNER_FOLDS, {}),
               "B10": (authors_base | licensed, UNION_INNER_FOLDS, {}),
               # the fifteenth session's lead (docs/mining.md, RULE25): B10 applying the threshold its own inner
               # cross-validation chose (learned-6's way), not OPERATING
               "B10i": (authors_base | licensed, UNION_INNER_FOLDS, {"operating": None}),
               # ... and with every author weighing the same in the fit (train.BALANCE 1.0, not 0.5)
               "B10i-b1": (authors_base | licensed, UNION_INNER_FOLDS, {"operating": None, "balance": 1.0}),
               # ... and with RULE23's cc-scope columns (variants.TAIL_FEATURES)
               "B10i-scope": (authors_base | licensed, UNION_INNER_FOLDS, {"operating": None, "tail": "cc-scope"})}
    # sixteenth session (RULE26, won: learned-9): "AB", the blend of A's fit and B10's (log-probabilities averaged,
    # train.blend; weight 0.5, threshold 0.25 as judged): B10's people without its shift away from A's (B10i lost 0.08
    # F1 on wild-dev)
    from miner.classify.train import BLEND_THRESHOLD, BLEND_WEIGHT

    recipes["AB"] = (authors_base | licensed, None,
                     {"blend": (recipes["A"], recipes["B10"], BLEND_WEIGHT), "threshold": BLEND_THRESHOLD})
    # eighteenth session: every labelled person in part two (the pointers-only people too), as a measure of what more
    # training people would give a new person; not shippable (their text is not in the repository)
    recipes["U10"] = (authors_base | licensed | pointers, UNION_INNER_FOLDS, {})
    recipes["AU"] = (authors_base | licensed | pointers, None,
                     {"blend": (recipes["A"], recipes["U10"], BLEND_WEIGHT), "threshold": BLEND_THRESHOLD})
    train_ab, _, kw_ab = recipes["AB"]
    *parts, weight = kw_ab["blend"]

    def ab_with(**extra):  # AB with `extra` fit arguments in both parts, its weight and threshold kept
        return train_ab, None, {**kw_ab, "blend": (*[(t, f, {**kw, **extra}) for t, f, kw in parts], weight)}

    # seventeenth session: AB with RULE23's cc-scope columns in both parts
    recipes["AB-scope"] = ab_with(tail="cc-scope")
    # eighteenth session (errors): AB reading plain-words evidence as cued: "AB-appr" the approval cue only on turns of
    # at most six words (variants.approval_scoped), "AB-neg" a negation with no correction cue after an answer as a
    # column of prior +0.8 (variants.TAIL_FEATURES "neg-nocue"), "AB-plain" both
    recipes["AB-appr"] = ab_with(xform="appr-scope")
    recipes["AB-neg"] = ab_with(tail="neg-nocue")
    recipes["AB-plain"] = ab_with(xform="appr-scope", tail="neg-nocue")
    # eighteenth session (knn): AB with one more column in both parts, the share of corrections among the turn's 30
    # nearest labelled turns of other authors (variants.knn_column; the index: the blend's training rows), prior 0
    from miner.classify.variants import KNN_K

    recipes["AB-knn"] = ab_with(knn=KNN_K)
    # nineteenth session: AB with RULE21/22's language-model columns in both parts (--lm-cache; one PCA of the blend's
    # training rows read by both parts, as the kNN column), their L2 pull 25x / 6.25x weaker than a plain column's
    recipes["AB-lm-w"] = ab_with(lm=LM_K, tail_weight=5.0)
    recipes["AB-lm-w2.5"] = ab_with(lm=LM_K, tail_weight=2.5)
    # sixteenth session: B10i with A's authors (the shared corpora's and the repository's first label files, the
    # closest to the acceptance test's people) weighing twice as much in the fit (below B10i: docs/mining.md)
    recipes["B10i-wA2"] = (authors_base | licensed, UNION_INNER_FOLDS,
                           {"operating": None, "author_weight": dict.fromkeys(authors_base, 2.0)})
    # RULE10's "A-damp" (authors_base, None, {"damp": True}) is at commit 104b155 (a tie: reverted)
    # RULE11's "A-centre" and RULE12's "A-shape" ({"centre": "emb"} / {"centre": "shape"}: each author's own shrunk
    # mean taken off the embeddings / the style columns) are at commit 6d005d3 (both lost: reverted)
    # RULE13's "A-prior" / RULE14's "A-priorcv" ({"prior_shift": 20.0} / {"prior_shift": "cv"}: each author's correction
    # prior re-estimated by EM from their own unlabelled turns, Saerens et al. 2002) are at commit 7a12b68 (both lost)
    # RULE18's "A-sem" ({"sem": True}: one column, the cosine of the turn's MiniLM vector with the previous typed
    # request's, prior +4.0 on the correction row) and the diagnostic "A-sem-c003" (the same, L2 held at 0.003), with
    # --sem-cache, are at commit 8e2658b (lost)
    # RULE20 (/work/team/miner-RULE20.txt): SmolLM2-135M-Instruct read the assistant's last message tail and the turn;
    # "A-lm": its hidden state (--lm-cache) reduced by a PCA fitted inside each fit on that fit's modelled training
    # turns, LM_K columns appended after the embeddings, standardised as plain features, prior 0; "A-zs": its zero-shot
    # log-odds of "yes" to "is the user correcting the assistant?" as one such column (a diagnostic)
    recipes["A-lm"] = (authors_base, None, {"lm": LM_K})
    recipes["A-zs"] = (authors_base, None, {"zs": True})
    # RULE21 (/work/team/miner-RULE21.txt): "A-lm-w", A-lm with the 16 columns' L2 pull 25x weaker (tail_weight 5)
    recipes["A-lm-w"] = (authors_base, None, {"lm": LM_K, "tail_weight": 5.0})
    # RULE22 (/work/team/miner-RULE22.txt): "A-lm-w2.5", the same with tail_weight 2.5 (a pull 6.25x weaker than plain)
    recipes["A-lm-w2.5"] = (authors_base, None, {"lm": LM_K, "tail_weight": 2.5})
    # fifteenth session: the variants of miner.classify.variants whose own columns join the fit (TAIL_FEATURES:
    # standardised as plain features, their prior train.fit's tail_prior), each a recipe of its name
    from miner.classify.variants import TAIL_FEATURES

    recipes.update({name: (authors_base, None, {"tail": name}) for name in TAIL_FEATURES})
    return recipes


def hold_out(recipes: dict, held: dict[str, set[str]]) -> dict:
    """--hold-out-group: each recipe's training authors without the members of the `held` groups (said per recipe)."""
    out = {}
    for name, (train, folds, fit_kw) in recipes.items():
        gone = {a for m in held.values() for a in m} & train
        if "blend" in fit_kw:  # the parts' training sets too: a held author is in none of the fits
            *parts, weight = fit_kw["blend"]
            fit_kw = {**fit_kw, "blend": (*hold_out(dict(enumerate(parts)), held).values(), weight)}
        out[name] = (train - gone, folds, fit_kw)
        if held:
            print(f"recipe {name}: {len(train)} training authors, {len(gone)} of them in {'+'.join(held)} held out "
                  f"-> {len(train) - len(gone)}", flush=True)
    return out


def curve_spec(spec: str, recipes: dict, groups: dict) -> tuple[set[str], set[str], tuple[int, ...]]:
    """--curve-on POOL:TEST:K,K,...: (pool authors, test authors outside the pool, k's). POOL: a recipe of this run
    (its training set) or a group; TEST: a group."""
    pool_name, test_name, ks = (spec.rsplit(":", 2) + ["", ""])[:3] if spec.count(":") >= 2 else ("", "", "")
    pool = recipes[pool_name][0] if pool_name in recipes else groups.get(pool_name)
    if pool is None or test_name not in groups or not ks:
        raise SystemExit(f"--curve-on {spec!r}: expected POOL:TEST:K,K,... with POOL a recipe of this run "
                         f"({', '.join(recipes)}) or a group, TEST a group ({', '.join(groups)})")
    return set(pool), groups[test_name] - set(pool), tuple(int(k) for k in ks.split(","))


def read_group(spec: str, scored: set[str]) -> tuple[str, set[str], set[str]]:
    """--group NAME=FILE: (NAME, the listed authors scored here, the listed authors not scored here). FILE: one author
    (owner/name) a line, its first word; blank lines and # comments skipped."""
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise SystemExit(f"--group {spec!r}: expected NAME=FILE")
    listed = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip().split()
        if word:
            listed.add(word[0])
    return name, listed & scored, listed - scored


def extend_reused(r: dict, train: set[str], new: set[str], sweep: tuple[float, ...], folds: int | None,
                  fit_kw: dict | None, predictions: tuple[str, str, bool] | None = None) -> None:
    """A recipe read by --reuse, extended to `new` authors outside training: their counts (and at each sweep threshold)
    from the recipe's fit on all training authors, fitted again here; the same fit's counts on the authors outside
    training that the earlier run scored are compared with the earlier counts (they must be equal). `predictions`
    (path, recipe, first): the new authors' turns written as --predictions writes a fitted recipe's."""
    if new & train:
        raise SystemExit(f"--reuse: training authors missing from the earlier run: {sorted(new & train)}")
    examples = _U["examples"]
    rows, labs, chosen, pc = _union_fold(None, train, sweep, folds, fit_kw)
    ex = [examples[i] for i in rows]
    if predictions:
        keep = [k for k, e in enumerate(ex) if e.author in new]
        write_predictions(predictions[0], predictions[1], [ex[k] for k in keep], [labs[0][k] for k in keep],
                          [pc[k] for k in keep], first=predictions[2])
    got = [author_counts(ex, labs[0])] + [author_counts(ex, labs[j + 1]) for j in range(len(sweep))]
    old = [r["counts"]] + [r["sweep"][th]["counts"] for th in sweep]
    same = [a for a in got[0] if a not in new]
    differ = [a for a in same if any(list(g[a]) != list(o[a]) for g, o in zip(got, old, strict=True))]
    print(f"  {len(new)} authors not in it scored by the fit on all {len(train)} training authors (threshold "
          f"{chosen}); that fit's counts on the {len(same)} authors it had scored: "
          + ("equal" if not differ else f"DIFFERENT for {differ}"), flush=True)
    if differ:
        raise SystemExit("--reuse: the earlier run does not reproduce; run the recipe again without --reuse")
    for g, o in zip(got, old, strict=True):
        o.update({a: g[a] for a in new})
    r["fold_thresholds"] = list(r.get("fold_thresholds", [])) + [f"{chosen} (extension)"]


def union_data(args) -> tuple[list, set[str], dict[str, set[str]], set[str]]:
    """Every labelled author's examples (training folder, not-in-model/, pointers-only/ with their text), sorted, with
    their embedding and feature rows in _U; the training authors, the groups, the licensed unseen authors."""
    import numpy as np

    from miner.classify.learned import feature_matrix
    from miner_unseen import unseen_data

    args.also, args.no_external = [], False
    base, E = load(args)
    unseen, E_u, _, licensed = unseen_data(Path(args.pointers_text), Path(args.unseen_cache) if args.unseen_cache
                                           else None, Path(args.labels) if args.labels else ROOT / "data" / "labels",
                                           without_text_ok=True)
    examples = base + unseen
    order = sorted(range(len(examples)), key=lambda i: (examples[i].author, examples[i].turn.session_id,
                                                        examples[i].turn.position, examples[i].turn.msg_id))
    examples = [examples[i] for i in order]
    E = np.vstack([E, E_u])[order]
    _U.update(examples=examples, E=E, X=feature_matrix([e.turn for e in examples]))
    if getattr(args, "lm_cache", None):
        import pickle

        rows = pickle.loads(Path(args.lm_cache).read_bytes())
        dim = len(next(iter(rows.values()))["H"])
        got = [rows.get((e.author, e.turn.session_id, e.turn.msg_id)) for e in examples]
        _U["H"] = np.asarray([g["H"] if g else np.zeros(dim) for g in got], dtype=np.float64)
        _U["ZS"] = np.asarray([g["zs"] if g else 0.0 for g in got], dtype=np.float64)[:, None]
        _U["H_known"] = np.asarray([g is not None for g in got])
        from miner.classify.learned import rules

        lacking = [e.author for e, k in zip(examples, _U["H_known"], strict=True) if not k and rules(e.turn) is None]
        print(f"lm cache: {int(_U['H_known'].sum())} of {len(examples)} turns, dim {dim}; turns left to the regression "
              f"without a row: {len(lacking)}" + (f" (authors {sorted(set(lacking))})" if lacking else ""), flush=True)
    groups = {"first corpora": {e.author for e in base if not e.file.startswith(("wild/", "external-"))},
              "wild-dev": {e.author for e in base if e.file.startswith("wild/")},
              "external": {e.author for e in base if e.file.startswith("external-")},
              "not-in-model": set(licensed),
              "pointers": {e.author for e in unseen} - set(licensed)}
    # RULE18's halves of the authors outside training, by a fixed rule drawn before any look (design: read for its
    # error analysis; test: never read turn by turn, scored once for RULE18)
    outside = {e.author for e in unseen}
    groups["design half"] = {a for a in outside if design_half(a)}
    groups["test half"] = outside - groups["design half"]
    groups["outside (70)"] = outside
    return examples, {e.author for e in base}, groups, set(licensed)


def design_half(author: str) -> bool:
    import hashlib

    return int(hashlib.sha256(author.encode()).hexdigest()[:8], 16) % 2 == 0


def own(args, sweep: tuple[float, ...]) -> dict:
    """--same-authors and --curve (bench/miner_own.py)."""
    from miner.classify.learned import feature_matrix
    from miner_own import own_curve, same_authors

    out: dict = {}
    if args.same_authors:
        examples, E = load(args)
        first = {e.author for e in examples if not e.file.startswith(("wild/", "external-"))}
        print(f"{len(examples)} training turns, {len({e.author for e in examples})} authors; the first corpora's "
              f"{len(first)}: {sorted(first)}", flush=True)
        out["same_authors"] = same_authors(examples, E, feature_matrix([e.turn for e in examples]), first, sweep,
                                           args.jobs)
    if args.curve:
        examples, train, groups, licensed = union_data(args)
        print(f"union: {len(examples)} turns, {len({e.author for e in examples})} authors", flush=True)
        from miner_own import AS_BEFORE, LEAST_SURE, curve_change

        # RULE15's "--curve-prior" (the base's posteriors shifted to the person's labelled correction share, K = 10
        # pseudo-labels at the training prior, instead of / on top of the fine-tune) is at commit 549e430 (lost)
        # RULE16's "ft-shrunk" / RULE17's "ft-held" (--curve-hold: the fine-tune with its class intercepts pulled towards
        # the base's by ~10 pseudo-turns, train._lr intercept_pull 2.0 / held at them; D with 90% and 95% intervals,
        # miner_own.curve_change) are at commit 9658ba5 (both lost)
        variants = ("finetune",) + ((AS_BEFORE,) if args.curve_before else ()) + \
            ((LEAST_SURE,) if args.curve_least_sure else ())
        # the base is the shipped recipe (learned-9's blend) fitted without the author when the shipped model saw it
        shipped_train, folds, fit_kw = recipe_table(train, set(licensed))[SHIPPED_RECIPE]
        out["learning_curve"] = own_curve(examples, _U["E"], _U["X"], shipped_train, args.jobs, variants,
                                          base_fit=partial(_shipped_without, shipped_train, folds, fit_kw))
        if args.curve_least_sure:
            out["least_sure_change"] = curve_change(out["learning_curve"], "finetune", LEAST_SURE)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1, default=str))
    return out


def _shipped_without(train: set[str], folds, fit_kw: dict, author: str):
    """The shipped recipe fitted on `train` without `author` (a picklable function for the curve's workers)."""
    return union_fit(author, train, folds, fit_kw)[0]


def union_report(counts: dict, groups: dict, quiet: bool = False) -> tuple[dict, dict]:
    """Pooled and per-group P/R/F1 from per-author (tp, fp, fn)."""
    from miner_own import prf as from_counts

    def prf(members):
        return from_counts([sum(v[j] for a, v in counts.items() if members is None or a in members) for j in range(3)])

    pooled, per = prf(None), {g: prf(m) for g, m in groups.items()}
    if not quiet:
        print(f"  all           {fmt(pooled)}")
        for g, c in per.items():
            print(f"  {g:13s} {fmt(c)}  ({len(groups[g])} authors)")
    return pooled, per


UNION_INNER_FOLDS = 10  # B's inner cross-validation: 10 folds of authors (57 inner folds per outer fold cost 5x more)


def union_labels(train: set[str], sweep: tuple[float, ...], jobs: int, folds: int | None,
                 fit_kw: dict | None = None, outside_only: bool = False) -> tuple[list, list[list], list, list]:
    """Labels of every union example by a fit without its author: one fold per training author, one fit on all the
    training authors for the rest; the same labels at each `sweep` threshold; the threshold each fold fit chose.
    `outside_only`: the training authors' turns are not scored (their labels None)."""
    from multiprocessing import get_context

    examples = _U["examples"]
    tasks = ([] if outside_only else sorted(train)) + [None]
    if jobs > 1:
        with get_context("fork").Pool(jobs) as pool:
            results = pool.starmap(_union_fold, [(a, train, sweep, folds, fit_kw) for a in tasks], chunksize=1)
    else:
        results = [_union_fold(a, train, sweep, folds, fit_kw) for a in tasks]
    out: list = [None] * len(examples)
    moved: list[list] = [[None] * len(examples) for _ in sweep]
    probs: list = [None] * len(examples)
    chosen = []
    for rows, labs, threshold, pc in results:
        chosen.append(threshold)
        for k, i in enumerate(rows):
            out[i], probs[i] = labs[0][k], pc[k]
            for j in range(len(sweep)):
                moved[j][i] = labs[j + 1][k]
    return out, moved, chosen, probs


def write_predictions(path: str, recipe: str, examples, labels, probs, first: bool) -> None:
    """--predictions: one JSON line per scored turn of `recipe` (the file started afresh by the first recipe)."""
    with open(path, "w" if first else "a", encoding="utf-8") as f:
        for e, lab, p in zip(examples, labels, probs, strict=True):
            if lab is None:
                continue
            f.write(json.dumps({"recipe": recipe, "author": e.author, "file": e.file, "session": e.turn.session_id,
                                "msg_id": e.turn.msg_id, "position": e.turn.position, "label": e.label,
                                "p_correction": p, "prediction": lab.label}) + "\n")


def _union_fold(held: str | None, train: set[str], sweep: tuple[float, ...], folds: int | None,
                fit_kw: dict | None = None):
    """(rows scored, their labels at the chosen threshold then at each sweep threshold, chosen threshold): the fit
    on `train` without `held`, scoring `held`'s rows (None: the fit on all of `train`, scoring every other author)."""
    import time

    import numpy as np

    from miner.classify.train import predict

    t = time.process_time()
    model, rows, E = union_fit(held, train, folds, fit_kw)
    examples, X = _U["examples"], recipe_X(fit_kw)
    chosen = model.threshold
    ex, Er, Xr = [examples[i] for i in rows], E[rows], X[rows]
    labs = []
    for th in (chosen, *sweep):
        model.threshold = th
        labs.append(predict(model, ex, Er, Xr) if rows else [])
    model.threshold = chosen
    from miner.classify.learned import rules  # p(correction) of the turns the regression decides (None: a rule)

    free = [k for k, e in enumerate(ex) if rules(e.turn) is None]
    pc: list = [None] * len(ex)
    if free:
        P = model.proba(np.hstack([Xr[free], Er[free]]) if model.embedding else Xr[free])
        for k, p in zip(free, P[:, model.classes.index("reattempt_with_feedback")].tolist(), strict=True):
            pc[k] = round(p, 5)
    print(f"    fold {held or '(all training authors)'}: {len(rows)} turns scored, threshold {chosen}, "
          f"{time.process_time() - t:.0f} s CPU", flush=True)
    return np.asarray(rows).tolist(), labs, chosen, pc


def union_fit(held: str | None, train: set[str], folds: int | None, fit_kw: dict | None = None):
    """(model, rows it scores, embedding rows of every union turn with the recipe's extra columns): the fit on
    `train` without `held` (None: on all of `train`; it scores every author outside `train`)."""
    import numpy as np

    from miner.classify.train import fit

    examples, E, X = _U["examples"], _U["E"], _U["X"]
    fit_rows = [i for i, e in enumerate(examples) if e.author in train and e.author != held]
    rows = [i for i, e in enumerate(examples) if (e.author == held if held else e.author not in train)]
    fit_kw = dict(fit_kw or {})
    if "blend" in fit_kw:  # two recipes' fits without `held`, blended into one model (train.blend)
        from miner.classify.train import blend

        (ta, fa, ka), (tb, fb, kb), weight = fit_kw["blend"]
        # Columns computed from the blend's training rows (part two's contain part one's), once for both parts' fits
        # and the scoring: the kNN column (variants.knn_column), the language model's PCA (lm_columns; each part's
        # own PCA would give the blend two different sets of columns to score)
        from miner.classify.variants import knn_column

        shared = {"knn": ("kNN", lambda k, fit: knn_column(examples, E, fit, k)),
                  "lm": ("language-model", lambda k, fit: lm_columns(examples, fit, k))}
        blend_rows = [i for i, e in enumerate(examples) if e.author in ta | tb and e.author != held]
        for key, (what, columns) in shared.items():
            if any(kw.get(key) for kw in (ka, kb)):
                asked = [kw.get(key) for kw in (ka, kb)]
                if len(set(asked)) != 1:
                    raise ValueError(f"a blend's parts read different {what} columns: {asked}")
                col = columns(asked[0], blend_rows)
                ka, kb = {**ka, key: col}, {**kb, key: col}
        (a, _, Ea), b = union_fit(held, ta, fa, ka), union_fit(held, tb, fb, kb)[0]
        return blend(a, b, weight, fit_kw["threshold"]), rows, Ea  # Ea: with the parts' extra columns, if any
    k, zs, tail = fit_kw.pop("lm", 0), fit_kw.pop("zs", False), fit_kw.pop("tail", None)
    X = recipe_X({"xform": fit_kw.pop("xform", None)})
    if isinstance(k, np.ndarray):  # the columns given by a blend
        E, fit_kw["plain_tail"] = np.hstack([E, k]), k.shape[1]
    elif k or zs:
        E = np.hstack([E, lm_columns(examples, fit_rows, k)] if k else [E, _U["ZS"]])
        fit_kw["plain_tail"] = k or 1
    if tail:  # a cc-/ot- variant's own columns (miner.classify.variants.TAIL_FEATURES), computed once per process
        from miner.classify.variants import TAIL_FEATURES, tail_columns

        fit_kw["tail_prior"] = TAIL_FEATURES[tail][1]
        cols = _U.setdefault("tail", {})  # by the feature rows they read (a recipe's X transform)
        if (tail, id(X)) not in cols:
            cols[(tail, id(X))] = tail_columns(tail, [e.turn for e in examples], X)
        E = np.hstack([E, cols[(tail, id(X))]])
        fit_kw["plain_tail"] = cols[(tail, id(X))].shape[1]
    knn = fit_kw.pop("knn", None)
    if knn is not None:  # the kNN column (variants.knn_column): given by a blend, or from this fit's training rows
        from miner.classify.variants import knn_column

        col = knn if isinstance(knn, np.ndarray) else knn_column(examples, E, fit_rows, knn)
        E = np.hstack([E, col])
        if fit_kw.get("tail_prior"):  # after a variant's columns of their own priors: prior 0 for it
            fit_kw["tail_prior"] = (*fit_kw["tail_prior"], 0.0)
        fit_kw["plain_tail"] = fit_kw.get("plain_tail", 0) + 1
    model = fit([examples[i] for i in fit_rows], E[fit_rows], X=X[fit_rows], inner_folds=folds, **fit_kw)
    return model, rows, E


def recipe_X(fit_kw: dict | None):
    """The feature rows a recipe reads: _U's, or rewritten by its X transform (variants.X_TRANSFORMS, fit_kw "xform";
    a blend's parts must name the same one), computed once per process."""
    fit_kw = fit_kw or {}
    if "blend" in fit_kw:
        names = {kw.get("xform") for _, _, kw in fit_kw["blend"][:-1]}
        if len(names) != 1:
            raise ValueError(f"a blend's parts read different feature rows: {names}")
        name = names.pop()
    else:
        name = fit_kw.get("xform")
    if not name:
        return _U["X"]
    done = _U.setdefault("xform", {})
    if name not in done:
        from miner.classify.variants import X_TRANSFORMS

        done[name] = X_TRANSFORMS[name]([e.turn for e in _U["examples"]], _U["X"])
    return done[name]


LM_K = 16  # RULE20: principal components of the language model's hidden state kept


def lm_columns(examples, fit_rows: list[int], k: int):
    """The language model's hidden state of every union turn projected on the first `k` principal components of the
    fit's own modelled training turns (a PCA inside each fit: no held-out author shapes it)."""
    import numpy as np

    from miner.classify.train import modelled

    H, known = _U["H"], _U["H_known"]
    mod = [fit_rows[j] for j in modelled([examples[i] for i in fit_rows])]
    mod = [i for i in mod if known[i]]
    mu = H[mod].mean(axis=0)
    _, _, Vt = np.linalg.svd(H[mod] - mu, full_matrices=False)
    Z = (H - mu) @ Vt[:k].T
    Z[~known] = 0.0
    return Z


AUTHOR_CURVE_K = (5, 10, 20, 30, 40)
AUTHOR_CURVE_DRAWS = 5


def author_curve(pool: set[str], test: set[str], folds: int | None, ks: tuple[int, ...] = AUTHOR_CURVE_K,
                 name: str = "pointers") -> dict:
    """Correction P/R/F1 on the `test` authors (never trained on) of the regression fitted on k authors drawn at
    random from `pool` for each k of `ks` (seeded; AUTHOR_CURVE_DRAWS draws, one for all of them). Not nested: the L2
    strength, temperature and threshold are those of the recipe fitted on all of `pool` (one regression per draw)."""
    import numpy as np

    from miner.classify.base import Label
    from miner.classify.learned import rules
    from miner.classify.train import BALANCE, CLASSES, TARGET, _logits, _raw_fit, _softmax, author_weights, fit

    examples, E, X = _U["examples"], _U["E"], _U["X"]
    pool_rows = [i for i, e in enumerate(examples) if e.author in pool]
    full = fit([examples[i] for i in pool_rows], E[pool_rows], X=X[pool_rows], inner_folds=folds)
    n_plain = len(full.features)
    XE = np.hstack([full.columns(X), E])
    ruled = [rules(e.turn) for e in examples]
    fit_ok = [i for i in pool_rows if ruled[i] is None and TARGET.get(examples[i].label, examples[i].label) in CLASSES]
    y = {i: CLASSES.index(TARGET.get(examples[i].label, examples[i].label)) for i in fit_ok}
    scored = [i for i, e in enumerate(examples) if e.author in test]
    free = [i for i in scored if ruled[i] is None]
    names = sorted(pool)
    print(f"\nauthor curve {name}: correction figures on the {len(test)} test authors ({len(scored)} turns), fitted on "
          f"k of {len(pool)} authors (not nested: C {full.data['C']}, temperature {full.temperature}, threshold "
          f"{full.threshold} of the fit on the whole pool)", flush=True)
    out: dict = {}
    for k in sorted({min(k, len(names)) for k in ks} | {len(names)}):
        runs = []
        for d in range(AUTHOR_CURVE_DRAWS if k < len(names) else 1):
            chosen = set(random.Random(f"authors:{k}:{d}").sample(names, k))
            rows = [i for i in fit_ok if examples[i].author in chosen]
            a = np.asarray([examples[i].author for i in rows])
            m = _raw_fit(XE[rows], np.asarray([y[i] for i in rows]), full.data["C"], n_plain,
                         author_weights(a, BALANCE))
            labels = list(ruled)
            P = _softmax(_logits(m, XE[free]) / full.temperature)
            for i, (lab, p) in zip(free, full.decide(P), strict=True):
                labels[i] = Label(lab, p, [])
            c = [sum(v[j] for v in author_counts([examples[i] for i in scored], [labels[i] for i in scored]).values())
                 for j in range(3)]
            runs.append(c)
        f = lambda c: 2 * c[0] / max(2 * c[0] + c[1] + c[2], 1)  # noqa: E731
        rec = [c[0] / max(c[0] + c[2], 1) for c in runs]
        pre = [c[0] / max(c[0] + c[1], 1) for c in runs]
        out[k] = {"draws": runs, "recall": [round(x, 3) for x in rec], "precision": [round(x, 3) for x in pre],
                  "f1": [round(f(c), 3) for c in runs]}
        print(f"  k={k:3d}  recall mean {np.mean(rec):.2f} ({min(rec):.2f}-{max(rec):.2f})  precision mean "
              f"{np.mean(pre):.2f}  F1 mean {np.mean([f(c) for c in runs]):.2f} ({min(map(f, runs)):.2f}-"
              f"{max(map(f, runs)):.2f})", flush=True)
    return out


if __name__ == "__main__":
    main()
