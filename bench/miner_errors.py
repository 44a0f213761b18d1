"""A recipe's false alarms and missed corrections on a group of authors, turn by turn (printed, never written).

    python bench/miner_errors.py --group data/labels/fresh-2026-12-05.txt          # the shipped model (learned-9)
    python bench/miner_errors.py --group G --recipe cc-scope --cache C --unseen-cache U   # a --union recipe
    python bench/miner_errors.py --group G --all                                   # every turn, not only errors

The turns are those `bench/miner_cv.py --union` scores (the shared corpora's dev labels, `data/labels`, `not-in-model/`,
and `pointers-only/` with their text from `--pointers-text`), read by the same code (`miner_cv.union_data`).
`reattempt_with_feedback` is the positive class. Each author of the group is scored by a fit without it:

- recipe `shipped` (default): the model in miner/classify/model.json at its own threshold, for authors outside its
  training set (for them it is exactly the leave-one-author-out prediction); a training author is scored by the
  shipped recipe's fit without it (`miner_cv.SHIPPED_RECIPE`, refitted);
- any other `--union` recipe (`miner_cv.recipe_table`): its fit on all training authors, or without the author.

Per error: author, label file and line, gold label, the regression's correction probability (before the confidence
map; `rule` when structure decided), what it called the turn, the turn's head and the end of the assistant's answer
before it, and (`--why`) the features that moved the turn most towards or away from a correction (their
standardised value times the difference of the correction and new_request weights; the embedding block as one).

The texts of pointers-only files come from outside the repository: this script prints them to the terminal only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import miner_cv  # noqa: E402  (sets one BLAS thread before numpy loads)

POSITIVE = "reattempt_with_feedback"


def one_line(s: str) -> str:
    return " ".join((s or "").split())


def file_lines(examples) -> dict[str, int]:
    """msg_id -> the 1-based line of its label file (external format: session and n name the line)."""
    from miner.classify.dataset import external_msg_id, label_file, numbered_rows

    names = {e.file.split(":", 1)[0] for e in examples}
    paths = [path for name in sorted(names) if name.startswith("external-") and (path := label_file(name))]
    return {external_msg_id(r): i for path in paths for i, r in numbered_rows(path, ("author", "session", "n"))}


def scored(args, examples, authors: set[str], train: set[str], licensed: set[str]):
    """[(example index, correction probability or None for a rule, label given, model, the turn's model row or None
    for a rule, columns of the recipe's own after the embeddings)] of the group's turns."""
    import numpy as np

    from miner.classify.learned import rules, shipped_model
    from miner.classify.train import CLASSES

    U = miner_cv._U
    ci = CLASSES.index(POSITIVE)
    table = miner_cv.recipe_table(train, licensed)
    name = miner_cv.SHIPPED_RECIPE if args.recipe == "shipped" else args.recipe
    if name not in table:
        raise SystemExit(f"--recipe {args.recipe!r}: not one of shipped, {', '.join(table)}")
    recipe_train, folds, fit_kw = table[name]
    fits: dict = {}
    out = []
    for a in sorted(authors):
        held = a if a in recipe_train else None
        if held is None and args.recipe == "shipped":
            key = "shipped"
            if key not in fits:
                fits[key] = (shipped_model(), U["E"])
        else:
            key = held
            if key not in fits:
                model, _, E = miner_cv.union_fit(held, recipe_train, folds, fit_kw)
                fits[key] = (model, E)
        model, E = fits[key]
        own = E.shape[1] - U["E"].shape[1]
        if args.threshold is not None:
            model.threshold = args.threshold
        rows = [i for i, e in enumerate(examples) if e.author == a]
        for i in rows:
            rule = rules(examples[i].turn)
            if rule is not None:
                out.append((i, None, rule.label, model, None, own))
                continue
            x = np.hstack([U["X"][i:i + 1], E[i:i + 1]]) if model.embedding else U["X"][i:i + 1]
            P = model.proba(x)
            label, _ = model.decide(P)[0]
            out.append((i, float(P[0, ci]), label, model, x, own))
    return out


def why(model, x, k: int, tail: int = 0) -> str:
    """The k features moving the turn most towards (+) or away from (-) a correction, against new_request; `tail`:
    x's last columns are a recipe's own (after the embeddings)."""
    from miner.classify.train import CLASSES

    x = model.columns(x)
    n = x.shape[1]
    z = (x[0] - model.mean[:n]) / model.scale[:n]
    w = model.coef[CLASSES.index(POSITIVE), :n] - model.coef[CLASSES.index("new_request"), :n]
    c = z * w
    n_plain = len(model.features)
    parts = {nm: float(c[j]) for j, nm in enumerate(model.features)}
    if n > n_plain:
        end = n - tail
        parts["emb"] = float(c[n_plain:end].sum())
        for j in range(end, n):
            parts[f"own{j - end}"] = float(c[j])
    top = sorted(parts.items(), key=lambda kv: -abs(kv[1]))[:k]
    return ", ".join(f"{nm} {v:+.2f}" for nm, v in top)


def main() -> None:
    from miner.classify.dataset import POINTERS_TEXT

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", required=True, help="file of author names (owner/name), one a line, # comments")
    ap.add_argument("--recipe", default="shipped", help="shipped (model.json) or a miner_cv --union recipe")
    ap.add_argument("--threshold", type=float, help="the correction threshold (default: the model's own)")
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--labels", help="the label folder (default data/labels)")
    ap.add_argument("--pointers-text", default=str(POINTERS_TEXT))
    ap.add_argument("--cache", help="as bench/miner_cv.py --cache (the training turns and their embeddings)")
    ap.add_argument("--unseen-cache", help="as bench/miner_cv.py --unseen-cache")
    ap.add_argument("--head", type=int, default=220, help="characters of the turn shown")
    ap.add_argument("--tail", type=int, default=220, help="characters of the answer's end shown")
    ap.add_argument("--why", type=int, default=4, help="feature contributions shown per error (0: none)")
    ap.add_argument("--all", action="store_true", help="every turn of the group, not only the errors")
    args = ap.parse_args()
    args.no_external, args.also, args.lm_cache = False, [], None

    examples, train, _, licensed = miner_cv.union_data(args)
    scored_authors = {e.author for e in examples}
    name, members, missing = miner_cv.read_group(f"group={args.group}", scored_authors)
    if missing:
        print(f"{len(missing)} listed authors have no scored turn here: {sorted(missing)}")
    inside = sorted(members & train)
    print(f"group {args.group}: {len(members)} authors, recipe {args.recipe}"
          + (f"; {len(inside)} are training authors, each scored by a fit without it" if inside else ""), flush=True)
    lines = file_lines(examples)
    rows = scored(args, examples, members, train, set(licensed))
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    per: dict[str, list[int]] = {}
    for i, p, label, model, x, own in rows:
        e = examples[i]
        gold, said = e.label == POSITIVE, label == POSITIVE
        kind = "tp" if gold and said else "fp" if said else "fn" if gold else "tn"
        counts[kind] += 1
        c = per.setdefault(e.author, [0, 0, 0])
        c[0] += kind == "tp"
        c[1] += kind == "fp"
        c[2] += kind == "fn"
        if kind in ("tp", "tn") and not args.all:
            continue
        t = e.turn
        head = one_line(t.text)[: args.head]
        tail = one_line(t.prev_assistant or "")[-args.tail:]
        where = f"{e.file.split(':', 1)[0]}:{lines.get(t.msg_id, '?')}"
        score = "rule" if p is None else f"{p:.3f}"
        print(f"\n[{ {'fp': 'FALSE ALARM', 'fn': 'MISSED', 'tp': 'hit', 'tn': 'ok'}[kind]}] {e.author}  {where}  "
              f"gold {e.label}  called {label}  p(correction) {score}  (kind {t.kind}, position {t.position})")
        print(f"  answer …{tail}")
        print(f"  turn   {head}")
        if args.why and x is not None:
            print(f"  why    {why(model, x, args.why, own)}")
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    prec, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    print(f"\n{len(rows)} turns of {len(members)} authors: tp {tp}, fp {fp}, fn {fn}; P {prec:.3f} R {rec:.3f} "
          f"F1 {2 * tp / max(2 * tp + fp + fn, 1):.3f}")
    for a, (tp, fp, fn) in sorted(per.items()):
        if fp or fn:
            print(f"  {a:60s} tp {tp:2d}  fp {fp:2d}  fn {fn:2d}")


if __name__ == "__main__":
    main()
