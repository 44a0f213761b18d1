"""Miner benchmark: `vault mine --redo` throughput on the 1 GB benchmark archive.

    python bench/mine_bench.py                  # bench/data/archive (make_archive.py), cached vault
    python bench/mine_bench.py --scale small    # the shared corpora only

Figures, measured in the same run on the same vault:
- mine: assign roles + read every human-side turn in context + embed the new ones + classify +
  store the labels, with the learned backend (default), embeddings cached in the vault;
- its parts: reading the turns (miner.turns); the learned classification itself (features and
  the regression, embeddings already computed); embedding the turns (MiniLM), apart;
- baselines: the heuristic backend on the same turns; a bare scan of the human-side texts
  (SELECT, the floor of any miner), and a single regex of common correction phrases over the
  same texts (the classic baseline, correction precision 0.50 and recall 0.26).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analytics_bench import build_source  # noqa: E402  (one cached vault for both benchmarks)

REGEX_BASELINE = re.compile(
    r"\b(no|not|wrong|incorrect|instead|i meant|i said|still (?:not|doesn't|broken|fails)|doesn't work|"
    r"don't|try again|that's not)\b", re.IGNORECASE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", default=str(ROOT / "bench" / "data" / "archive"))
    ap.add_argument("--db", default=str(ROOT / "bench" / "data" / "analytics.duckdb"))
    ap.add_argument("--scale", choices=["small"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args, Path(tmp))


def run(args, tmp: Path) -> None:
    from miner.classify.heuristic import HeuristicClassifier
    from miner.classify.learned import LearnedClassifier
    from miner.mine import mine
    from miner.turns import load_turns
    from vault.model import Kind
    from vault.sqlstring import sql_strings
    from vault.store import open_vault

    src = build_source(args, tmp)
    work = tmp / "mine.duckdb"
    shutil.copy(src, work)  # mining writes labels: keep the cached vault pristine
    con = open_vault(work)
    kinds = sql_strings(sorted(Kind.HUMAN_SIDE))
    out: dict = {"sessions": con.execute("SELECT count(*) FROM sessions").fetchone()[0],
                 "messages": con.execute("SELECT count(*) FROM messages").fetchone()[0]}

    t = time.perf_counter()
    texts = [r[0] or "" for r in con.execute(
        f"SELECT text FROM messages WHERE kind IN ({kinds}) AND on_main_branch").fetchall()]
    out["scan_s"] = time.perf_counter() - t
    t = time.perf_counter()
    regex_hits = sum(1 for x in texts if REGEX_BASELINE.search(x))
    out["regex_s"] = time.perf_counter() - t

    t = time.perf_counter()
    turns = load_turns(con)
    out["load_turns_s"] = time.perf_counter() - t
    t = time.perf_counter()
    HeuristicClassifier().label(turns)
    out["heuristic_s"] = time.perf_counter() - t

    clf = LearnedClassifier(con=con)
    t = time.perf_counter()
    clf.label(turns)  # the first run embeds (and caches) every turn: embedding time, reported apart
    first = time.perf_counter() - t
    out["embed_s"] = (clf.embed_report or {}).get("seconds", 0.0)
    out["embedded_texts"] = (clf.embed_report or {}).get("embedded", 0)
    t = time.perf_counter()
    clf.label(turns)
    out["classify_and_cached_vectors_s"] = time.perf_counter() - t
    out["vector_read_s"] = (clf.embed_report or {}).get("seconds", 0.0)
    out["classify_s"] = out["classify_and_cached_vectors_s"] - out["vector_read_s"]
    out["first_label_s"] = first

    t = time.perf_counter()
    rep = mine(con, redo=True)
    out["mine_s"] = time.perf_counter() - t
    con.close()

    n = out["turns"] = rep["turns_labelled"]
    out.update({
        "mine_turns_per_s": n / out["mine_s"],
        "classify_turns_per_s": n / out["classify_s"],
        "heuristic_turns_per_s": n / out["heuristic_s"],
        "regex_turns_per_s": len(texts) / out["regex_s"] if out["regex_s"] else None,
        "scan_turns_per_s": len(texts) / out["scan_s"] if out["scan_s"] else None,
        "labels": rep["labelled_now"],
        "regex_baseline_hits": regex_hits,
    })
    print(f"vault: {out['sessions']} sessions, {out['messages']} messages, {n} human-side turns")
    print(f"vault mine --redo     {out['mine_s']:7.2f} s  {out['mine_turns_per_s']:9.0f} turns/s  "
          f"(read turns {out['load_turns_s']:.2f} s; vectors cached)")
    print(f"embedding (first run) {out['embed_s']:7.2f} s  for {out['embedded_texts']} distinct texts "
          f"(cached in the vault: read back in {out['vector_read_s']:.2f} s)")
    print(f"learned classifier    {out['classify_s']:7.2f} s  {out['classify_turns_per_s']:9.0f} turns/s  "
          "(features + regression, vectors given)")
    print(f"baseline: heuristic   {out['heuristic_s']:7.2f} s  {out['heuristic_turns_per_s']:9.0f} turns/s  "
          f"(learned / heuristic time: x{out['classify_s'] / out['heuristic_s']:.2f})")
    print(f"baseline: one regex   {out['regex_s']:7.2f} s  {out['regex_turns_per_s']:9.0f} turns/s  "
          f"(classifier / regex time: x{out['classify_s'] / out['regex_s']:.1f})")
    print(f"baseline: bare scan   {out['scan_s']:7.2f} s  (mine / scan time: x{out['mine_s'] / out['scan_s']:.1f})")
    print(f"labels: {rep['labelled_now']}")
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}))


if __name__ == "__main__":
    main()
