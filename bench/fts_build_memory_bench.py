"""The keyword index's whole build under a small DuckDB cap: does it fit, or run out of memory and start over?

Each round copies the vault and rebuilds its index (`fts.ensure_index(force=True)`, as a cold ingest does) in a
child process that runs a source tree (`--tree`, e.g. a baseline tree of main, and this checkout), with the build's
cap `fts.BUILD_MEMORY` set to `--cap` (the 5 GB vault's 256 MB case, scaled down to a smaller vault). Reported per
tree: the build attempts (2: it ran out of memory and started over under `ROOMY_BUILD_MEMORY`), wall, CPU and peak
RSS of the child (wait4), and a digest of every index table (row count and a hash of the rows in their order), which
must be the same for every tree. Trees interleaved, medians.

    nice -n 10 .venv/bin/python bench/fts_build_memory_bench.py --vault V.duckdb --tree BASE --tree . --cap 100MB
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measured, src_env, tree_ab_args, vault_copies  # noqa: E402

CHILD = r"""
import json, sys
from vault.index import fts, fts_build
from vault.store import open_vault
fts.BUILD_MEMORY = sys.argv[2]
attempts = []
build = fts_build.build
def counted(con, *a, **k):
    attempts.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
    return build(con, *a, **k)
fts_build.build = counted
con = open_vault(sys.argv[1])
out = fts.ensure_index(con, force=True)
tables = [f"{s}.{t}" for s, t in con.execute(
    "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
    "AND (schema_name = 'fts_main_fts_docs' OR table_name LIKE 'fts%') ORDER BY 1, 2").fetchall()]
digest = {t: list(con.execute(f"SELECT count(*), bit_xor(hash(rowid, x))::VARCHAR FROM {t} x").fetchone())
          for t in tables}
con.close()
print(json.dumps({"attempts": attempts, "docs": out["fts_docs"], "digest": digest}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vault", type=Path, required=True, help="the vault whose index is rebuilt (only copied)")
    ap.add_argument("--cap", default="100MB", help="fts.BUILD_MEMORY in the child")
    tree_ab_args(ap)
    a = ap.parse_args()
    rows: dict[str, list[dict]] = {t: [] for t in a.tree}
    for r, tree, db in vault_copies(a.vault, a.tree, a.rounds, a.work, "fts_build_memory_copy.duckdb"):
        m = measured([sys.executable, "-c", CHILD, str(db), a.cap], env=src_env(Path(tree).resolve()),
                     capture_err=True)
        if m.code:
            sys.exit(f"{tree}: exit {m.code}: {m.err.decode()[-2000:]}")
        res = json.loads(m.out)
        row = {"round": r, "wall_s": round(m.wall_s, 1), "cpu_s": round(m.cpu_s, 1), "peak_rss_mb": m.peak_rss_mb,
               "attempts": res["attempts"], "docs": res["docs"], "digest": res["digest"]}
        rows[tree].append(row)
        print(json.dumps({"tree": tree, **{k: v for k, v in row.items() if k != "digest"}}), file=sys.stderr,
              flush=True)
    digests = [json.dumps(r["digest"], sort_keys=True) for rs in rows.values() for r in rs]
    summary = {tree: {"rounds": len(rs), "attempts": [len(r["attempts"]) for r in rs],
                      **{k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s", "peak_rss_mb")}}
               for tree, rs in rows.items()}
    print(json.dumps({"cap": a.cap, "vault": str(a.vault), "same_index": len(set(digests)) == 1,
                      "tables": len(rows[a.tree[0]][0]["digest"]), "trees": summary}, indent=1))


if __name__ == "__main__":
    main()
