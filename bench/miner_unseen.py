"""The learned miner on people no design choice saw: the 24 authors kept out of training, split in two.

    python bench/miner_unseen.py --make-split        # (once) writes bench/unseen_split.json, seeded
    python bench/miner_unseen.py                     # train.fit's recipe ("shipped", part one of the blend), tuning half
    python bench/miner_unseen.py --recipe balance-1 --recipe embed-1   # other recipes, tuning half
    python bench/miner_unseen.py --half held-out     # the held-out half: only to report, never to choose
    python bench/miner_unseen.py --half all          # + "fresh": authors labelled after the split was drawn
    python bench/miner_unseen.py --half tuning,fresh --sweep 0.2,0.25   # what choices may look at; other thresholds
    python bench/miner_unseen.py --recipe learned-6 --recipe th-0.2 --only data/labels/not-in-model/external-X.jsonl
                                                     # a new held-out set, scored once

The unseen authors are the label files of `data/labels/not-in-model/` (licensed text in the repository)
and `data/labels/pointers-only/` (judgements whose text is not in the repository: `--pointers-text DIR`
holds the same files with their text, read again at the recorded commits, outside the repository; each
line is kept only if its SHA-256 matches the pointer's, see data/labels/README.md).

The split (bench/unseen_split.json) was drawn before any recipe was tried on these authors: the authors
of each folder sorted, shuffled with `random.Random(SEED)`, the first half of each folder to tuning
(ceil for not-in-model, floor for pointers-only: 12 and 12). Design choices look at the tuning half
(and at leave-one-author-out on the training authors, bench/miner_cv.py); the held-out half is printed
once, at the end, for the report.

Each unseen author is labelled by a model fitted without any of its turns: the recipe fitted once on the
training data; when a recipe adds the licensed not-in-model authors to the training data, each of those
authors is scored by a fit without it (leave-one-author-out for them). Hyperparameters are chosen inside
every fit as `miner.classify.train.fit` does.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import cached, content_key, offline_one_thread  # noqa: E402

offline_one_thread()  # before numpy loads
from miner_own import prf  # noqa: E402

SPLIT = ROOT / "bench" / "unseen_split.json"
SEED = 20261203
LABELS = ROOT / "data" / "labels"


def make_split() -> dict:
    folders = {"not-in-model": LABELS / "not-in-model", "pointers-only": LABELS / "pointers-only"}
    rng = random.Random(SEED)
    out: dict = {"seed": SEED, "method": "per folder: authors sorted, random.Random(seed).shuffle, the first "
                 "ceil(n/2) (not-in-model) / floor(n/2) (pointers-only) to tuning, the rest held out",
                 "tuning": [], "held_out": []}
    for name, folder in folders.items():
        authors = sorted({json.loads(line)["author"] for p in folder.glob("external-*.jsonl")
                          for line in p.read_text(encoding="utf-8").splitlines() if line.strip()})
        rng.shuffle(authors)
        k = (len(authors) + 1) // 2 if name == "not-in-model" else len(authors) // 2
        out["tuning"] += authors[:k]
        out["held_out"] += authors[k:]
    out["tuning"].sort()
    out["held_out"].sort()
    return out


def unseen_data(text_dir: Path, cache: Path | None, labels: Path = LABELS, without_text_ok: bool = False):
    """(examples, embedding rows, feature rows) of every unseen author, licensed ones marked. `without_text_ok`: a
    pointers-only file with no file of its name in `text_dir` is left out (said), not an error (a text that is there
    and does not match its pointer is still one)."""
    import numpy as np

    from miner.classify.dataset import external_examples, read_pointers
    from miner.classify.learned import feature_matrix

    pointers = labels / "pointers-only"
    pointer_files = sorted(pointers.glob("external-*.jsonl"))
    if without_text_ok:
        left = [p.name for p in pointer_files if not (text_dir / p.name).exists()]
        if left:
            print(f"pointers-only: {len(left)} of {len(pointer_files)} files have no text in {text_dir}, left out",
                  flush=True)
        pointer_files = [p for p in pointer_files if p.name not in left]
    files = sorted((labels / "not-in-model").glob("external-*.jsonl")) + pointer_files
    files += sorted(text_dir.glob("external-*.jsonl"))  # the pointers' text (answer_after arrives there too)

    def build():
        from miner.classify.vectors import embed

        licensed = external_examples(labels / "not-in-model")
        pointed = [e for p in pointer_files for e in read_pointers(p, text_dir)]
        examples = licensed + pointed
        E = embed(None, [e.turn for e in examples])[0].astype(np.float64)
        return examples, E, {e.author for e in licensed}

    examples, E, licensed = cached(cache, content_key(files), build)
    return examples, E, feature_matrix([e.turn for e in examples]), licensed


# -- recipes: how to fit on the training data -----------------------------------------------------------------

def prototypes(E_train, y_corr, authors, E_test):
    """Prototype columns: per embedding block (turn, turn with answer), cosine to the training corrections'
    centroid minus cosine to the other turns' centroid. Training rows get centroids without their own
    author's turns (what the column will be worth on a new person); test rows the centroids of all."""
    import numpy as np

    from miner.classify.vectors import DIM

    def cols(E, C1, C0):
        out = []
        for b in range(2):
            blk = E[:, b * DIM:(b + 1) * DIM]
            out.append(blk @ C1[b] - blk @ C0[b])
        return np.stack(out, axis=1)

    def centroids(mask):
        res = []
        for pos in (True, False):
            rows = E_train[mask & (y_corr == pos)]
            c = [rows[:, b * DIM:(b + 1) * DIM].mean(axis=0) for b in range(2)]
            res.append([v / max(np.linalg.norm(v), 1e-9) for v in c])
        return res

    P_train = np.zeros((len(E_train), 2))
    for a in sorted(set(authors.tolist())):
        m = authors == a
        C1, C0 = centroids(~m)
        P_train[m] = cols(E_train[m], C1, C0)
    C1, C0 = centroids(np.ones(len(E_train), bool))
    return P_train, cols(E_test, C1, C0)


RECIPES = {  # name: what it is, fit keyword arguments, module settings, training additions, embedding use
    # the name is older than the blend: train.fit as it is (learned-7's fit, learned-8's recipe), which is only part one
    # of the shipped blend (bench/miner_cv.py SHIPPED_RECIPE); kept for the commands docs/mining.md gives
    "shipped": ("train.fit as it is (learned-8's recipe: part one of the shipped blend)", {}, {}, False, "all"),
    "no-embeddings": ("no embedding columns", {}, {}, False, "none"),
    "learned-5": ("the learned-5 recipe (no after family, threshold of best inner F1)",
                  {"lookahead": False, "window": 0, "operating": None}, {}, False, "all"),
    "lookahead": ("+ the after family (the assistant's next answer)",
                  {"lookahead": True, "window": 0, "operating": None}, {}, False, "all"),
    "lookahead-smooth": ("+ the after family, threshold with its grid neighbours (learned-6)",
                         {"lookahead": True, "window": 1, "operating": None}, {}, False, "all"),
    "smooth": ("threshold chosen with its grid neighbours' inner F1",
               {"lookahead": False, "window": 1, "operating": None}, {}, False, "all"),
    "learned-6": ("the learned-6 recipe (= lookahead-smooth: the threshold chosen inside; `shipped` is learned-7, "
                  "the same fit at threshold 0.20)",
                  {"lookahead": True, "window": 1, "operating": None}, {}, False, "all"),
    "tempered": ("learned-6, threshold judged on temperature-scaled inner probabilities (as the backend applies it)",
                 {"lookahead": True, "window": 1, "tempered": True, "operating": None}, {}, False, "all"),
    "embed-0.5": ("embedding block weight 0.5 (was 0.25: a weaker pull to 0)", {}, {"EMBED_WEIGHT": 0.5}, False,
                  "all"),
    "embed-1": ("embedding block weight 1.0", {}, {"EMBED_WEIGHT": 1.0}, False, "all"),
    "turn-only": ("embedding of the turn only (not turn with answer)", {}, {}, False, "turn"),
    "pair-only": ("embedding of the turn with the answer only", {}, {}, False, "pair"),
    "proto": ("two prototype columns (cosine to correction / other centroids) instead of the 768", {},
              {"EMBED_WEIGHT": 1.0}, False, "proto"),
    "proto+emb": ("prototype columns beside the embeddings", {}, {}, False, "proto+all"),
    "balance-1": ("every author weighted alike", {"balance": 1.0}, {}, False, "all"),
    "balance-0": ("every turn weighted alike", {"balance": 0.0}, {}, False, "all"),
    "argmax": ("no threshold: likeliest label", {"threshold": None}, {}, False, "all"),
    "plus-licensed": ("+ the 7 licensed not-in-model authors in training", {}, {}, True, "all"),
    "plus-licensed-balance-1": ("+ licensed authors, every author alike", {"balance": 1.0}, {}, True, "all"),
    "plus-licensed-proto": ("+ licensed authors, prototype columns", {}, {"EMBED_WEIGHT": 1.0}, True, "proto"),
    "em": ("the shipped recipe, class priors re-estimated on each person's own turns (EM, no labels)", {},
           {"_em": True}, False, "all"),
    "plus-licensed-em": ("+ licensed authors, EM priors per person", {}, {"_em": True}, True, "all"),
    **{f"th-{t}": (f"correction threshold fixed at {t} (L2, temperature still chosen inside)", {"threshold": t}, {},
                   False, "all") for t in (0.1, 0.15, 0.2, 0.25)},
    **{f"plus-licensed-th-{t}": (f"+ licensed authors, threshold fixed at {t}", {"threshold": t}, {}, True, "all")
       for t in (0.15, 0.2)},
    **{f"no-{fam}": (f"without the {fam} family", {"mask": (fam,)}, {}, False, "all")
       for fam in ("shape", "ctx", "cue", "report", "handoff", "revise", "after")},
}


def run_recipe(name, train, E, X, test, E_t, X_t, licensed, sweep: tuple[float, ...] = ()):
    """Labels of `test` from recipe `name`, each unseen author by a fit without its turns. With `sweep`: a list,
    the labels at each correction threshold of `sweep` after them (the same fits: only the operating point moves)."""
    import numpy as np

    from miner.classify import train as T
    from miner.classify.vectors import DIM

    _, kwargs, settings, add, emb = RECIPES[name]
    kwargs = dict(kwargs)
    if "mask" in kwargs:
        from miner.classify.variants import masked

        mask = masked(kwargs.pop("mask"))
        X, X_t = mask(X), mask(X_t)
    settings = dict(settings)
    em = settings.pop("_em", False)
    old = {k: getattr(T, k) for k in settings}
    for k, v in settings.items():
        setattr(T, k, v)
    try:
        extra = [i for i, e in enumerate(test) if add and e.author in licensed]
        groups = [None] + (sorted({test[i].author for i in extra}) if add else [])
        out: list = [None] * len(test)
        moved: list[list] = [[None] * len(test) for _ in sweep]
        for held in groups:
            tr_i = [i for i in extra if test[i].author != held]
            ex = list(train) + [test[i] for i in tr_i]
            Ex = np.vstack([E, E_t[tr_i]]) if tr_i else E
            Xx = np.vstack([X, X_t[tr_i]]) if tr_i else X
            score = [i for i, e in enumerate(test) if (e.author == held if held else
                                                       not (add and e.author in licensed))]
            Es, Xs = E_t[score], X_t[score]
            if emb == "none":
                Ef, Es2 = None, None
            elif emb == "turn":
                Ef, Es2 = Ex[:, :DIM], Es[:, :DIM]
            elif emb == "pair":
                Ef, Es2 = Ex[:, DIM:], Es[:, DIM:]
            elif emb.startswith("proto"):
                y = np.asarray([e.label == "reattempt_with_feedback" for e in ex])
                Ptr, Pte = prototypes(Ex, y, np.asarray([e.author for e in ex]), Es)
                Ef, Es2 = (np.hstack([Ex, Ptr]), np.hstack([Es, Pte])) if emb == "proto+all" else (Ptr, Pte)
            else:
                Ef, Es2 = Ex, Es
            model = T.fit(ex, Ef, X=Xx, **kwargs)
            labels = (predict_em(model, ex, [test[i] for i in score], Es2, Xs) if em else
                      T.predict(model, [test[i] for i in score], Es2, Xs))
            for i, lab in zip(score, labels, strict=True):
                out[i] = lab
            chosen = model.threshold
            for k, th in enumerate(sweep):
                model.threshold = th
                said = (predict_em(model, ex, [test[i] for i in score], Es2, Xs) if em else
                        T.predict(model, [test[i] for i in score], Es2, Xs))
                for i, lab in zip(score, said, strict=True):
                    moved[k][i] = lab
            model.threshold = chosen
        return [out, *moved] if sweep else out
    finally:
        for k, v in old.items():
            setattr(T, k, v)


def predict_em(model, train, test, E, X, iterations: int = 50):
    """Labels of `test` with each author's class priors re-estimated from its own (unlabelled) turns by EM
    (Saerens et al. 2002): posteriors reweighted by new prior / training prior until the priors settle."""
    import numpy as np

    from miner.classify.base import Label
    from miner.classify.learned import rules
    from miner.classify.train import CLASSES, TARGET, modelled

    y = [CLASSES.index(TARGET.get(train[i].label, train[i].label)) for i in modelled(train)]
    prior = np.bincount(y, minlength=len(CLASSES)) / len(y)
    out = [rules(e.turn) for e in test]
    for a in sorted({e.author for e in test}):
        rest = [i for i, e in enumerate(test) if e.author == a and out[i] is None]
        if not rest:
            continue
        Xr = X[rest] if not model.embedding or E is None else np.hstack([X[rest], E[rest]])
        P0 = model.proba(Xr)
        pi = prior.copy()
        for _ in range(iterations):
            P = P0 * (pi / np.maximum(prior, 1e-9))
            P /= P.sum(axis=1, keepdims=True)
            pi = P.mean(axis=0)
        for i, (label, p) in zip(rest, model.decide(P), strict=True):
            out[i] = Label(label, p, [])
    return out


def main() -> None:
    from miner.classify.dataset import POINTERS_TEXT

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--make-split", action="store_true", help="write bench/unseen_split.json (once, before tuning)")
    ap.add_argument("--half", default="tuning",
                    help="tuning, held-out, fresh, all, or a comma list (tuning,fresh: what choices may look at); "
                         "fresh: authors labelled after the split was drawn (in neither half)")
    ap.add_argument("--recipe", action="append", default=[], help=f"one of {', '.join(RECIPES)} (repeatable)")
    ap.add_argument("--pointers-text", default=str(POINTERS_TEXT), help="the pointers-only files with their text")
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--cache", help="pickle of the training turns (as bench/miner_cv.py --cache)")
    ap.add_argument("--labels", help="the label folder (default data/labels; e.g. another branch's copy, exported "
                                     "with git archive): its external-*.jsonl train, its not-in-model/ and "
                                     "pointers-only/ are the unseen authors")
    ap.add_argument("--unseen-cache", help="pickle of the unseen turns and their embeddings")
    ap.add_argument("--json", dest="json_out", help="write the figures here too")
    ap.add_argument("--sweep", help="also the figures at these correction thresholds, comma-separated (the same "
                                    "fits, only the operating point moved)")
    ap.add_argument("--only", action="append", default=[], metavar="LABEL_FILE",
                    help="score only the authors of these label files (repeatable; as a half named 'given'; "
                         "they must be unseen authors, e.g. data/labels/not-in-model/external-*.jsonl)")
    args = ap.parse_args()
    if args.make_split:
        if SPLIT.exists():
            sys.exit(f"{SPLIT} exists: the split is drawn once, before tuning")
        SPLIT.write_text(json.dumps(make_split(), indent=1) + "\n")
        print(SPLIT.read_text())
        return

    from miner.classify.learned import feature_matrix
    from miner_cv import author_counts, fmt, load

    split = json.loads(SPLIT.read_text())
    halves = {"tuning": split["tuning"], "held-out": split["held_out"]}
    args.no_external = False
    train, E = load(args)
    X = feature_matrix([e.turn for e in train])
    test, E_t, X_t, licensed = unseen_data(Path(args.pointers_text), Path(args.unseen_cache) if args.unseen_cache
                                           else None, Path(args.labels) if args.labels else LABELS)
    halves["fresh"] = sorted({e.author for e in test} - set(halves["tuning"]) - set(halves["held-out"]))
    wanted = list(halves) if args.half == "all" else args.half.split(",")
    if set(wanted) - set(halves):
        sys.exit(f"--half: one of {', '.join(halves)}, all, or a comma list of them")
    if args.only:
        given = {json.loads(line)["author"] for f in args.only for line in Path(f).read_text().splitlines() if line}
        missing = given - {e.author for e in test}
        if missing:
            sys.exit(f"not unseen authors (not in not-in-model/ or pointers-only/ with text): {sorted(missing)}")
        halves["given"], wanted = sorted(given), ["given"]
    keep = [i for i, e in enumerate(test) if any(e.author in halves[h] for h in wanted)]
    test, E_t, X_t = [test[i] for i in keep], E_t[keep], X_t[keep]
    print(f"training: {len(train)} turns, {len({e.author for e in train})} authors; scored: {len(test)} turns of "
          f"{len({e.author for e in test})} unseen authors ({', '.join(wanted)} half)", flush=True)
    results = {}
    for name in args.recipe or ["shipped"]:
        t = time.process_time()
        sweep = tuple(float(x) for x in args.sweep.split(",")) if args.sweep else ()
        labels = run_recipe(name, train, E, X, test, E_t, X_t, licensed, sweep)
        if sweep:
            labels, moved = labels[0], labels[1:]
        counts = author_counts(test, labels)
        results[name] = {}
        print(f"\n{name}: {RECIPES[name][0]}  ({time.process_time() - t:.0f} s CPU)")
        for h in wanted:
            c = [sum(v[j] for a, v in counts.items() if a in halves[h]) for j in range(3)]
            results[name][h] = {**prf(c), "authors": {a: v for a, v in counts.items() if a in halves[h]}}
            print(f"  {h:9s} {fmt(results[name][h])}")
            for a in sorted(halves[h]):
                if a in counts:
                    print(f"      {a:45s} tp {counts[a][0]:2d} fp {counts[a][1]:2d} fn {counts[a][2]:2d}")
            for th, labs in zip(sweep, moved if sweep else [], strict=True):
                mc = author_counts(test, labs)
                c = [sum(v[j] for a, v in mc.items() if a in halves[h]) for j in range(3)]
                results[name].setdefault("sweep", {}).setdefault(h, {})[th] = c
                print(f"    at threshold {th:.2f}: {fmt(prf(c))}")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
