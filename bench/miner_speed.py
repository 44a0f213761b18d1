"""Speed of the learned classification against the heuristic backend, same turns, same run.

    python bench/miner_speed.py              # the labelled turns (dev + external), replicated 30 times
    python bench/miner_speed.py --times 100
    python bench/miner_speed.py --vault /work/team/bench-data/vault-storage.duckdb   # an ingested vault's
                                       # human-side turns (read-only; e.g. the 1 GB benchmark archive's)

Times the classification itself (features, rules, regression; embeddings off, as `--no-embed`: they
are computed once per distinct text and cached, see bench/mine_bench.py for the vault run) and the
heuristic backend on the same in-memory turns, and prints turns/s and the ratio. A small stand-in for
bench/mine_bench.py when ingesting the 1 GB archive is not possible.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--times", type=int, default=30, help="replicate the labelled turns this many times")
    ap.add_argument("--vault", help="classify this vault's human-side turns instead (opened read-only)")
    ap.add_argument("--repeat", type=int, default=1, help="time each backend this many times (alternating)")
    args = ap.parse_args()

    from miner.classify.heuristic import HeuristicClassifier
    from miner.classify.learned import LearnedClassifier
    from miner.classify.train import corpus_data

    if args.vault:
        import duckdb

        from miner.turns import load_turns

        con = duckdb.connect(args.vault, read_only=True)
        t = time.perf_counter()
        turns = load_turns(con)
        print(f"{args.vault}: {len(turns)} human-side turns read in context in {time.perf_counter() - t:.1f} s")
        con.close()
    else:
        with tempfile.TemporaryDirectory(prefix="miner-speed-") as tmp:
            examples, _ = corpus_data(Path(args.corpora), Path(tmp), embed=False)
        turns = [e.turn for e in examples] * args.times
    learned = LearnedClassifier(embed=False)
    for _ in range(args.repeat):
        seconds = {}
        for name, run in (("heuristic", HeuristicClassifier().label), (f"learned ({learned.version})", learned.label)):
            t = time.perf_counter()
            run(turns)
            seconds[name] = time.perf_counter() - t
            print(f"{name:22s} {len(turns)} turns  {seconds[name]:6.2f} s  {len(turns) / seconds[name]:8.0f} turns/s")
        h, lrn = seconds.values()
        print(f"learned / heuristic time: x{lrn / h:.2f}")


if __name__ == "__main__":
    main()
