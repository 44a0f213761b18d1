"""Precision of the correction gate and the pair filters on hand-judged pairs (data/pairs/judged.jsonl).

    python bench/pairs_eval.py --db VAULT [--judged data/pairs/judged.jsonl] [--json]
    python bench/pairs_eval.py --db VAULT --dump FILE [--sample N --seed S] [--kept-only]
    python bench/pairs_eval.py --db VAULT --strip-openers --judged data/pairs/fresh_sample_4.jsonl
    python bench/pairs_eval.py --loso NAME=DB[,DB...]:JUDGED.jsonl [--loso ...]   # leave one judged sample out

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
    rows = _matched(judged, by_id)
    stale = sum(j["pair_id"] in by_id for j in judged) - len(rows)
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


def _matched(judged: list[dict], by_id: dict) -> list[tuple[dict, object]]:
    """(judged row, candidate) for each row whose candidate exists and still has the chosen text it was judged on."""
    return [(j, by_id[j["pair_id"]]) for j in judged if j["pair_id"] in by_id
            and j.get("chosen_sha1", _sha1(by_id[j["pair_id"]].chosen)) == _sha1(by_id[j["pair_id"]].chosen)]


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


# --- leave-one-sample-out: the look-ahead changes against the filters before them ----------------------------

def _variant_failed(c, name: str) -> set[str]:
    """The filters `c` fails under a variant of this session's look-ahead changes (recomputed from the candidate)."""
    from miner.classify.after import acknowledges
    from miner.filters import GATE_CONFIDENCE

    failed = set(c.failed)
    low = c.confidence is not None and c.confidence < GATE_CONFIDENCE
    ack = acknowledges(c.feedback_answer)
    if name in ("before", "ack_after_only"):  # gate_confidence without the acknowledgement evidence
        failed.discard("gate_confidence")
        if low:
            failed.add("gate_confidence")
    if name in ("before", "ack_gate_only"):
        failed.discard("acknowledged_after")
    if name == "rescue_chain" and c.chosen_corrected and not c.chosen_interrupted \
            and not acknowledges(c.answer_after):
        failed.discard("chosen_corrected_later")  # the next turn "corrects" but the answer to it merely continues
    if name == "strict_gate" and not ack:
        failed.add("gate_confidence")  # the gate requires the acknowledgement
    return failed


VARIANTS = ("before", "ack_gate_only", "ack_after_only", "shipped", "rescue_chain", "strict_gate")


def _score(rows, name: str) -> dict:
    """Export (kept, valid among kept) and gate (passes, judged corrections among them) of a variant."""
    out = {"kept": 0, "kept_valid": 0, "gate": 0, "gate_corr": 0, "corr": 0, "openers": 0}
    for j, c in rows:
        failed = _variant_failed(c, name)
        out["corr"] += j["correction"]
        if not failed:
            out["kept"] += 1
            out["kept_valid"] += j["verdict"] == "valid"
            out["openers"] += _opener(c.chosen)
        if not any(f.startswith("gate_") for f in failed):
            out["gate"] += 1
            out["gate_corr"] += j["correction"]
    return out


def _add(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0) + b[k] for k in b}


def _wilson_low(k: int, n: int, z: float = 1.0) -> float:
    if not n:
        return 0.0
    p = k / n
    return (p + z * z / (2 * n) - z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5) / (1 + z * z / n)


def _f1(s: dict) -> float:
    p, r = s["gate_corr"] / max(1, s["gate"]), s["gate_corr"] / max(1, s["corr"])
    return 2 * p * r / (p + r) if p + r else 0.0


def loso(samples: dict[str, list]) -> dict:
    """Leave one judged sample out: on the others pick the variant with the best export precision's lower bound
    (Wilson, z=1: exporting nothing scores 0; ties: more kept) and, separately, the best gate F1 on judged
    corrections; score the picks on the sample left out. `samples`: name -> [(judged row, candidate)]."""
    per = {s: {v: _score(rows, v) for v in VARIANTS} for s, rows in samples.items()}
    folds, export, gate = {}, {}, {}
    for held in samples:
        train = {v: {} for v in VARIANTS}
        for s in samples:
            if s != held:
                for v in VARIANTS:
                    train[v] = _add(train[v], per[s][v])
        pick_e = max(VARIANTS, key=lambda v: (_wilson_low(train[v]["kept_valid"], train[v]["kept"]), train[v]["kept"]))
        pick_g = max(VARIANTS, key=lambda v: _f1(train[v]))
        folds[held] = {"export_pick": pick_e, "gate_pick": pick_g, **{f"held_{k}": per[held][pick_e][k]
                       for k in ("kept", "kept_valid", "openers")},
                       "held_gate": per[held][pick_g]["gate"], "held_gate_corr": per[held][pick_g]["gate_corr"],
                       "held_corr": per[held][pick_g]["corr"]}
        export = _add(export, {k: per[held][pick_e][k] for k in ("kept", "kept_valid", "openers")})
        gate = _add(gate, {k: per[held][pick_g][k] for k in ("gate", "gate_corr", "corr")})
    totals = {v: {} for v in VARIANTS}
    for s in samples:
        for v in VARIANTS:
            totals[v] = _add(totals[v], per[s][v])
    return {"folds": folds, "loso_export": export, "loso_gate": gate, "in_sample": totals, "per_sample": per}


def _parse_sample(spec: str) -> tuple[str, list[str], str]:
    """NAME=DB[,DB...]:JUDGED.jsonl"""
    name, rest = spec.split("=", 1)
    dbs, judged = rest.rsplit(":", 1)
    return name, dbs.split(","), judged


def run_loso(specs: list[str]) -> dict:
    samples = {}
    for spec in specs:
        name, dbs, path = _parse_sample(spec)
        by_id = {c.pair_id: c for c in union_candidates(dbs)}
        judged = [json.loads(ln) for ln in Path(path).read_text().splitlines() if ln.strip()]
        samples[name] = _matched(judged, by_id)
    return loso(samples)


def print_loso(rep: dict) -> None:
    print("| variant | kept (valid) in-sample | gate passes (corrections) in-sample | gate F1 |\n|---|---|---|---|")
    for v, s in rep["in_sample"].items():
        print(f"| {v} | {s['kept']} ({s['kept_valid']}) | {s['gate']} ({s['gate_corr']} of {s['corr']}) "
              f"| {_f1(s):.2f} |")
    print("| held-out sample | export pick | kept (valid) | gate pick | gate passes (corrections) |\n"
          "|---|---|---|---|---|")
    for s, f in rep["folds"].items():
        print(f"| {s} | {f['export_pick']} | {f['held_kept']} ({f['held_kept_valid']}) | {f['gate_pick']} | "
              f"{f['held_gate']} ({f['held_gate_corr']} of {f['held_corr']}) |")
    e, g = rep["loso_export"], rep["loso_gate"]
    print(f"LOSO export: kept {e['kept']}, valid {e['kept_valid']}, openers {e['openers']}; "
          f"LOSO gate: passes {g['gate']}, corrections {g['gate_corr']} of {g['corr']} (F1 {_f1(g):.2f})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", action="append", default=[],
                    help="a mined vault of the corpora; repeat to pool vaults labelled by different backends")
    ap.add_argument("--judged", default=str(ROOT / "data/pairs/judged.jsonl"))
    ap.add_argument("--dump")
    ap.add_argument("--sample", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kept-only", action="store_true")
    ap.add_argument("--strip-openers", action="store_true",
                    help="evaluate the variant that strips a next attempt's opener instead of dropping the pair")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--loso", action="append", metavar="NAME=DB[,DB]:JUDGED",
                    help="leave-one-sample-out over judged samples (repeat; --db is then ignored)")
    a = ap.parse_args(argv)
    if a.loso:
        rep = run_loso(a.loso)
        print(json.dumps(rep, indent=2)) if a.json else print_loso(rep)
        return 0
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
