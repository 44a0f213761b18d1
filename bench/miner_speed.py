"""Speed of the learned classification against the heuristic backend, same turns, same run.

    python bench/miner_speed.py              # the labelled turns (dev + external), replicated 30 times
    python bench/miner_speed.py --times 100
    python bench/miner_speed.py --vault /work/bench-data/vault-1g.duckdb --repeat 3   # an ingested vault's
                                       # human-side turns (opened read-only: no copy needed)
    python bench/miner_speed.py --embed    # + embedding the distinct texts, timed apart
    python bench/miner_speed.py --variant cc-scope   # + the learned classification with a variant's own columns
                                       # (miner/classify/variants.py TAIL_FEATURES) computed for every turn too

Times the classification itself (features, rules, regression; embeddings off, as `--no-embed`: they
are computed once per distinct text and cached, `--embed` times them apart) and the heuristic backend
on the same in-memory turns, alternating, and prints turns/s (wall and CPU time: on a shared machine
the wall time is mostly waiting) and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    ap.add_argument("--embed", action="store_true", help="also time embedding the turns' distinct texts, apart")
    ap.add_argument("--variant", help="also time the learned classification plus this variant's own columns "
                                      "(variants.TAIL_FEATURES: a ship criterion is >= 10,000 turns/s)")
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
    backends = [("heuristic", HeuristicClassifier().label), (f"learned ({learned.version})", learned.label)]
    if args.variant:
        from miner.classify.learned import feature_matrix
        from miner.classify.variants import tail_columns

        X = feature_matrix(turns)  # the rows the classification computes (label() does not return them)

        def with_columns(ts):  # the shipped classification, then the variant's columns from the same rows
            learned.label(ts)
            tail_columns(args.variant, ts, X)

        backends.append((f"learned + {args.variant}", with_columns))
    cpu: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        seconds = {}
        for name, run in backends:
            t, c = time.perf_counter(), time.process_time()
            run(turns)
            seconds[name] = (time.perf_counter() - t, time.process_time() - c)
            wall, c = seconds[name]
            cpu.setdefault(name, []).append(c)
            print(f"{name:22s} {len(turns)} turns  {wall:6.2f} s  {len(turns) / wall:8.0f} turns/s   "
                  f"CPU {c:6.2f} s  {len(turns) / c:8.0f} turns/s", flush=True)
        (hw, hc), (lw, lc) = list(seconds.values())[:2]
        print(f"learned / heuristic time: x{lw / hw:.2f} (CPU x{lc / hc:.2f})")
    if args.repeat > 2:  # on a shared machine the best of many runs is the least disturbed one
        for name, cs in cpu.items():
            print(f"{name:22s} CPU turns/s over {len(cs)} runs: best {len(turns) / min(cs):.0f}, "
                  f"median {len(turns) / statistics.median(cs):.0f}")
    if args.embed:
        embed_speed(turns)


def embed_speed(turns) -> None:
    """Embedding, apart from the classification: every distinct text of `turns` encoded once, nothing cached
    (a first `vault mine`; later runs read the vault's miner_vectors instead)."""
    from miner.classify.vectors import embed, turn_texts

    t, c = time.perf_counter(), time.process_time()
    _, rep = embed(None, turns)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    texts = len({x for turn in turns for x in turn_texts(turn)})
    print(f"embedding (MiniLM, not cached): {texts} distinct texts of {len(turns)} turns in {wall:.1f} s "
          f"(CPU {cpu:.1f} s; encoding {rep['encode_seconds']:.1f} s: {texts / max(rep['encode_seconds'], 1e-9):.0f} "
          f"texts/s, the rest loading the model)")

if __name__ == "__main__":
    main()
