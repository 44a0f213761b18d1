"""Label noise beside model error: correction precision / recall on the lines a labeller marked borderline and on the
rest, from the per-turn predictions of `bench/miner_cv.py --union --predictions FILE`.

    python bench/miner_borderline.py PRED.jsonl                       # every recipe in the file, all scored people
    python bench/miner_borderline.py PRED.jsonl --group judge=FILE    # also the people listed in FILE (one a line)
    python bench/miner_borderline.py PRED.jsonl --labels DIR          # label files of another folder (a judge copy)

A line is borderline when its label row's note says so (the rulebook of data/labels/README.md asks labellers to write
"borderline" where they hesitated). Lines of the shared corpora's label files carry no such note: they count as not
borderline. Prints nothing about the turns' text.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORRECTION = "reattempt_with_feedback"


def borderline_ids(labels: Path) -> set[str]:
    """msg_ids (as the union bench names a label-file turn, dataset.external_msg_id) whose label note says
    borderline."""
    from miner.classify.dataset import EXTERNAL_GLOB, LABEL_FOLDERS, external_msg_id, numbered_rows

    return {external_msg_id(r) for folder in LABEL_FOLDERS for path in sorted((labels / folder).glob(EXTERNAL_GLOB))
            for _, r in numbered_rows(path, ("author", "session", "n"))
            if "borderline" in (r.get("note") or "").lower()}


def figures(rows: list[dict]) -> str:
    tp = sum(r["label"] == CORRECTION and r["prediction"] == CORRECTION for r in rows)
    fp = sum(r["label"] != CORRECTION and r["prediction"] == CORRECTION for r in rows)
    fn = sum(r["label"] == CORRECTION and r["prediction"] != CORRECTION for r in rows)
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f"P {p:.3f} R {r:.3f} F1 {f1:.3f} ({tp} / {fp} / {fn}; {len(rows)} lines)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("predictions", help="a bench/miner_cv.py --union --predictions file")
    ap.add_argument("--labels", default=str(ROOT / "data" / "labels"), help="the label folder the run read")
    ap.add_argument("--group", action="append", default=[], metavar="NAME=FILE", help="people listed in FILE")
    args = ap.parse_args(argv)
    marked = borderline_ids(Path(args.labels))
    groups = {"all": None}
    for g in args.group:
        name, _, file = g.partition("=")
        groups[name] = {l.split()[0] for l in Path(file).read_text().splitlines() if l.strip() and not l.startswith("#")}
    by_recipe: dict[str, list[dict]] = defaultdict(list)
    with open(args.predictions, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            by_recipe[r["recipe"]].append(r)
    for recipe, rows in by_recipe.items():
        print(f"recipe {recipe}")
        for name, people in groups.items():
            chosen = [r for r in rows if people is None or r["author"] in people]
            if not chosen:
                continue
            border = [r for r in chosen if r["msg_id"] in marked]
            rest = [r for r in chosen if r["msg_id"] not in marked]
            print(f"  {name}: {len(border) / len(chosen):.0%} of lines borderline")
            print(f"    all lines         {figures(chosen)}")
            print(f"    not borderline    {figures(rest)}")
            print(f"    borderline only   {figures(border)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
