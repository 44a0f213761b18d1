"""`vault embed` on a copy of a vault not yet embedded, per source tree: peak memory, CPU, and the tables it writes.

Each round copies the vault (ingested with `--no-embed`) and runs `vault --db COPY embed --json` as a child process
that imports a source tree (`--tree`: e.g. a baseline tree of main, then this checkout), trees interleaved. Reported
per tree: wall, CPU and peak RSS (wait4; this process's own peak reset before each child, `_common.reset_peak_rss`),
the report's counts, and a digest of the tables the run writes (`chunks`, `vector_store`, `embed_models`: row count
and a hash of the rows, order-free; a model's `created_at` left out), which must be the same for every tree.
Medians over the rounds.

    nice -n 10 .venv/bin/python bench/embed_memory_bench.py --vault PLAIN.duckdb --tree BASE --tree . --rounds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measured, src_env, tree_ab_args, vault_copies  # noqa: E402

DIGEST = r"""
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
rows = {"chunks": "chunks x", "vector_store": "vector_store x",
        "embed_models": "(SELECT model_id, name, dim FROM embed_models) x"}  # (not its created_at)
out = {t: list(con.execute(f"SELECT count(*), bit_xor(hash(x))::VARCHAR FROM {q}").fetchone()) for t, q in rows.items()}
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vault", type=Path, required=True, help="a vault ingested with --no-embed (only copied)")
    tree_ab_args(ap)
    a = ap.parse_args()
    rows: dict[str, list[dict]] = {t: [] for t in a.tree}
    for r, tree, db in vault_copies(a.vault, a.tree, a.rounds, a.work, "embed_memory_copy.duckdb"):
        env = src_env(Path(tree).resolve(), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", NO_COLOR="1")
        m = measured([sys.executable, "-m", "vault.cli", "--db", str(db), "embed", "--json"], env=env,
                     capture_err=True)
        if m.code:
            sys.exit(f"{tree}: exit {m.code}: {m.err.decode()[-2000:]}")
        rep = json.loads(m.out)
        dig = measured([sys.executable, "-c", DIGEST, str(db)], tree=False)
        row = {"round": r, "wall_s": round(m.wall_s, 1), "cpu_s": round(m.cpu_s, 1), "peak_rss_mb": m.peak_rss_mb,
               "bench_rss_mb": m.parent_rss_mb, "tree_rss_mb": m.tree_rss_mb,
               "report": {k: rep[k] for k in ("messages", "chunks", "distinct", "embedded", "rechunked")},
               "digest": json.loads(dig.out)}
        rows[tree].append(row)
        print(json.dumps({"tree": tree, **row}), file=sys.stderr, flush=True)
    digests = [json.dumps(r["digest"], sort_keys=True) for rs in rows.values() for r in rs]
    summary = {tree: {"rounds": len(rs), **{k: statistics.median(r[k] for r in rs)
                                            for k in ("wall_s", "cpu_s", "peak_rss_mb")}}
               for tree, rs in rows.items()}
    print(json.dumps({"vault": str(a.vault), "same_tables": len(set(digests)) == 1, "trees": summary}, indent=1))


if __name__ == "__main__":
    main()
