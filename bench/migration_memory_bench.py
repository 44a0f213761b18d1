"""Peak memory of migrating an old-layout vault (before m010_record_chunks: `records.raw`) to this version.

    python bench/migration_memory_bench.py --old-vault OLD.duckdb [--work DIR] [--baseline-src SRC]

The old vault is made with the code before m010 (`git archive fcfd71e^ | tar -x -C /tmp/pre-m010`, then
`PYTHONPATH=/tmp/pre-m010 python -c "from vault.cli import main; main()" --db OLD.duckdb ingest --no-embed
PATHS`). Each run copies it into `--work` (never migrates it in place) and opens the copy in a fresh
process, which migrates it (backup copy, each pending migration, the rewrite of a mostly free file). The
child reports its peak RSS after each step (ru_maxrss: the step that raised it is the one that costs),
the parent the whole process's peak and CPU time. `--baseline-src` runs the same with another source
tree (e.g. `git archive main`), in the same run, for the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
from pathlib import Path

from _common import measured, src_env

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from vault import migrations, store

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

steps = []

def timed(name, fn):
    def run(*args, **kwargs):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        steps.append({"step": name, "seconds": round(time.perf_counter() - t, 2), "peak_rss_mb": peak()})
        return out
    return run

for i, (name, fn) in enumerate(migrations.MIGRATIONS):
    migrations.MIGRATIONS[i] = (name, timed(name, fn))
# The migration runner's module: vault.schema, or vault.store in a tree from before the split (a baseline).
runner = sys.modules[store.migrate.__module__]
runner._schema_after.cache_clear()
runner.backup = timed("backup", runner.backup)
store.compact = timed("compact", store.compact)
con = store.open_vault(sys.argv[1])
n = con.execute("SELECT count(*) FROM records").fetchone()[0]
con.close()
print(json.dumps({"records": n, "steps": [s for s in steps if s["seconds"] > 0.05 or s["step"] in
                                          ("m010_record_chunks", "backup", "compact")]}))
"""


def migrate_copy(old: Path, work: Path, src: Path) -> dict:
    """Copy `old` into `work` and open it with the code in `src` (migrating it); figures of that process."""
    db = work / "migrating.duckdb"
    for p in work.glob("migrating.duckdb*"):
        p.unlink()
    shutil.copy(old, db)
    env = src_env(src, HF_HUB_OFFLINE="1")
    run = measured([sys.executable, "-c", CHILD, str(db)], env=env, cwd=src, tree=False)
    if run.code:
        raise SystemExit(f"migrating with {src} failed (exit code {run.code})")
    res = json.loads(run.out)
    res.update(src=str(src), wall_s=round(run.wall_s, 1), cpu_s=round(run.cpu_s, 1),
               peak_rss_mb=run.peak_rss_mb, vault_mb=round(db.stat().st_size / 2**20, 1))
    for p in work.glob("migrating.duckdb*"):
        p.unlink()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-vault", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=None, help="where the copies are migrated (default: beside it)")
    ap.add_argument("--baseline-src", type=Path, default=None, help="another source tree, measured in the same run")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    work = args.work or args.old_vault.parent
    work.mkdir(parents=True, exist_ok=True)
    size = args.old_vault.stat().st_size / 2**20
    runs: dict[str, list[dict]] = {"this": [], "baseline": []}
    for _ in range(args.repeat):  # interleaved: both see the same machine load
        runs["this"].append(migrate_copy(args.old_vault, work, ROOT))
        if args.baseline_src:
            runs["baseline"].append(migrate_copy(args.old_vault, work, args.baseline_src))
    print(f"old-layout vault {args.old_vault}: {size:.0f} MB, load {os.getloadavg()[0]:.1f}")
    for name, rs in runs.items():
        for r in rs:
            worst = max(r["steps"], key=lambda s: s["peak_rss_mb"])
            print(f"{name}: peak RSS {r['peak_rss_mb']} MB (first reached in {worst['step']}), "
                  f"{r['wall_s']} s wall, {r['cpu_s']} s CPU, {r['records']} records, migrated vault {r['vault_mb']} MB")
            for s in r["steps"]:
                print(f"    {s['step']:<24} {s['seconds']:>7.1f} s   peak so far {s['peak_rss_mb']} MB")
    if runs["baseline"]:
        this = min(r["peak_rss_mb"] for r in runs["this"])
        base = min(r["peak_rss_mb"] for r in runs["baseline"])
        print(f"peak RSS: {this} MB vs baseline {base} MB = {this / base:.2f}x")
    print(json.dumps({"bench": "migration_memory", "old_vault_mb": round(size, 1), **runs,
                      "self_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))


if __name__ == "__main__":
    main()
