"""Precision of the correction gate and the pair filters on hand-judged pairs (data/pairs/judged.jsonl).

    python bench/pairs_eval.py --db VAULT [--judged data/pairs/judged.jsonl] [--json]
    python bench/pairs_eval.py --db VAULT --dump FILE [--sample N --seed S] [--kept-only]
    python bench/pairs_eval.py --db VAULT --strip-openers --judged data/pairs/fresh_sample_4.jsonl

`--strip-openers` evaluates a variant: each next attempt's sycophantic opener stripped (quality.strip_flattery)
instead of the pair dropped. A judged row with `chosen_sha1` holds only for the chosen text it was judged on;
a candidate whose chosen differs is counted as `stale`, not matched.

The vault holds ../shared/corpora/claude-code and conversations, mined (`vault mine`). Every candidate
pair is built (chain links included, see `collect_candidates(keep_superseded=True)`) and filtered;
each judged pair is matched by pair_id. Reported:
- kept: how many judged pairs pass every filter, and the valid fraction among them (precision);
- per filter: how many judged pairs it removes and the invalid fraction among those (its precision);
- recall of valid pairs (valid and kept / valid);
- per filter, what dropping it alone would add to the export (the pairs it is the only one to fail), valid or not.
`--dump` writes the candidates as readable text for judging (to a path outside the repo: the texts
are the corpora's, not ours to copy).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def candidates(con, strip_openers: bool = False):
    from miner.filters import apply_filters
    from miner.pairs import collect_candidates
    from miner.quality import strip_flattery

    cands, _ = collect_candidates(con, ("next_attempt",), keep_superseded=True)
    if strip_openers:
        for c in cands:
            c.chosen = strip_flattery(c.chosen)[0]
    apply_filters(cands)
    return cands


def union_candidates(dbs: list[str], strip_openers: bool = False):
    """The candidates of several vaults (the same corpora labelled differently), first one per pair_id."""
    import duckdb

    seen = {}
    for db in dbs:
        con = duckdb.connect(db, read_only=True)
        try:
            for c in candidates(con, strip_openers):
                seen.setdefault(c.pair_id, c)
        finally:
            con.close()
    return list(seen.values())


def evaluate(cands, judged: list[dict]) -> dict:
    from miner.filters import FILTER_NAMES

    by_id = {c.pair_id: c for c in cands}
    current = [j for j in judged if j["pair_id"] in by_id and j.get("chosen_sha1", _sha1(by_id[j["pair_id"]].chosen))
               == _sha1(by_id[j["pair_id"]].chosen)]
    stale = sum(j["pair_id"] in by_id for j in judged) - len(current)
    rows = [(j, by_id[j["pair_id"]]) for j in current]
    valid = [j["verdict"] == "valid" for j, _ in rows]
    kept = [not c.failed for _, c in rows]
    n_kept = sum(kept)
    out = {"judged": len(judged), "matched": len(rows), "stale": stale, "valid": sum(valid),
           "valid_fraction_all": round(sum(valid) / len(rows), 3) if rows else None,
           "kept": n_kept, "kept_valid": sum(v and k for v, k in zip(valid, kept)),
           "precision_kept": round(sum(v and k for v, k in zip(valid, kept)) / n_kept, 3) if n_kept else None,
           "recall_valid": round(sum(v and k for v, k in zip(valid, kept)) / sum(valid), 3) if sum(valid) else None,
           "sycophantic_in_kept_chosen": sum(1 for (_, c), k in zip(rows, kept) if k and _opener(c.chosen)),
           "kept_ids": [c.pair_id for _, c in rows if not c.failed],
           "correction_judged": sum(j["correction"] for j, _ in rows),
           "filters": {}}
    for name in FILTER_NAMES:
        hit = [v for (_, c), v in zip(rows, valid) if name in c.failed]
        out["filters"][name] = {"removes": len(hit), "of_them_invalid": len(hit) - sum(hit),
                                "precision": round((len(hit) - sum(hit)) / len(hit), 3) if hit else None}
    out["relax"] = {name: {"adds": sum(c.failed == [name] for _, c in rows),
                           "of_them_valid": sum(c.failed == [name] and v for (_, c), v in zip(rows, valid))}
                    for name in FILTER_NAMES}
    gate = [v for (_, c), v in zip(rows, valid) if not any(f.startswith("gate_") for f in c.failed)]
    out["gate"] = {"passes": len(gate), "of_them_valid": sum(gate),
                   "of_them_corrections": sum(j["correction"] for j, c in rows
                                              if not any(f.startswith("gate_") for f in c.failed))}
    return out


def _sha1(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()


def _opener(text: str) -> bool:
    from miner.quality import flattery

    return flattery(text) is not None


def dump(cands, path: Path, n: int | None, seed: int, kept_only: bool) -> None:
    pool = [c for c in cands if not kept_only or not c.failed]
    if n:
        pool = random.Random(seed).sample(pool, min(n, len(pool)))
    with path.open("w") as f:
        for c in pool:
            prompt = "\n".join(f"  [{m['role']}] {m['content'][-700:]}" for m in c.prompt[-3:])
            f.write(f"=== {c.pair_id} session={c.session_id} feedback_msg={c.feedback_msg_id} conf={c.confidence} "
                    f"failed={c.failed}\n--- PROMPT (tail)\n{prompt}\n--- REJECTED\n{c.rejected[-1500:]}\n"
                    f"--- FEEDBACK\n{c.feedback[:1200]}\n--- CHOSEN\n{c.chosen[:1500]}\n\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, action="append",
                    help="a mined vault of the corpora; repeat to pool vaults labelled by different backends")
    ap.add_argument("--judged", default=str(ROOT / "data/pairs/judged.jsonl"))
    ap.add_argument("--dump")
    ap.add_argument("--sample", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kept-only", action="store_true")
    ap.add_argument("--strip-openers", action="store_true",
                    help="evaluate the variant that strips a next attempt's opener instead of dropping the pair")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    cands = union_candidates(a.db, a.strip_openers)
    if a.dump:
        dump(cands, Path(a.dump), a.sample, a.seed, a.kept_only)
        print(f"{len(cands)} candidates; wrote {a.dump}")
        return 0
    judged = [json.loads(ln) for ln in Path(a.judged).read_text().splitlines() if ln.strip()]
    rep = evaluate(cands, judged)
    if a.json:
        print(json.dumps(rep, indent=2))
        return 0
    print(f"judged {rep['judged']} (matched {rep['matched']}, stale {rep['stale']}), valid {rep['valid']} "
          f"({rep['valid_fraction_all']})")
    print(f"kept by gate+filters: {rep['kept']}, valid among them {rep['kept_valid']} "
          f"(precision {rep['precision_kept']}), recall of valid pairs {rep['recall_valid']}; "
          f"sycophantic openers in kept chosen: {rep['sycophantic_in_kept_chosen']}")
    print(f"gate passes {rep['gate']['passes']} of {rep['matched']}: {rep['gate']['of_them_corrections']} judged "
          f"corrections (of {rep['correction_judged']}), {rep['gate']['of_them_valid']} valid pairs")
    print("kept: " + "; ".join(f"{j['pair_id']} {j['verdict']}" for j in judged if j["pair_id"] in rep["kept_ids"]))
    print("| filter | judged pairs it removes | of them invalid | precision | dropping it alone exports "
          "(valid) |\n|---|---|---|---|---|")
    for k, v in rep["filters"].items():
        r = rep["relax"][k]
        print(f"| {k} | {v['removes']} | {v['of_them_invalid']} | {v['precision']} | {r['adds']} "
              f"({r['of_them_valid']}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
