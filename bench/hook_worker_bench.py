"""CPU time of the hook's worker (`vault ingest --hook-worker Stop`) after one session grew by a turn, A/B.

Each tree ingests into its own copy of a settled vault; every round appends a turn to one session file of the archive
that vault holds, marks it pending (`vault.hooks.pending.add_pending`) and runs each tree's worker in a fresh process
(the order alternates). The figure is the child's user+sys CPU time (the machine is shared: wall times are printed
too, not compared). One round first, not counted: each vault then starts in its tree's steady state.

  nice -n 5 .venv/bin/python bench/hook_worker_bench.py --vault V.duckdb --archive ARCHIVE --baseline /tmp/base-tree \
      --work /tmp/hookab --rounds 7
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import src_env  # noqa: E402
from reingest_bench import append_turn, session_file  # noqa: E402

from vault.hooks.pending import add_pending, read_runs  # noqa: E402


def worker(tree: Path, db: Path) -> tuple[float, float]:
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vault.cli", "--db", str(db), "ingest", "--hook-worker", "Stop"],
                   env=src_env(tree, HF_HUB_OFFLINE="1"), cwd=tree, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system), wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vault", type=Path, required=True)
    ap.add_argument("--archive", type=Path, required=True, help="the archive the vault holds (its files are appended)")
    ap.add_argument("--baseline", type=Path, required=True, help="a checkout of the tree to compare with")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    trees = {"this": ROOT, "base": a.baseline.resolve()}
    dbs = {}
    for name in trees:
        dbs[name] = a.work / f"{name}.duckdb"
        for p in a.work.glob(f"{name}.duckdb*"):
            p.unlink()
        shutil.copyfile(a.vault, dbs[name])
    path = session_file(a.archive)
    res: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
    for r in range(a.rounds + 1):
        append_turn(path)
        for name in (("this", "base") if r % 2 == 0 else ("base", "this")):
            add_pending(dbs[name], [path])
            cpu, wall = worker(trees[name], dbs[name])
            last = read_runs(dbs[name]).get("Stop", {})
            if r:
                res[name].append((cpu, wall))
            print(f"round {r} {name}: cpu {cpu * 1000:.0f} ms wall {wall * 1000:.0f} ms  {last.get('result', last)}",
                  flush=True)
    print("load", os.getloadavg(), time.strftime("%H:%M:%S UTC", time.gmtime()))
    for name, rows in res.items():
        print(f"{name}: cpu median {statistics.median(c for c, _ in rows) * 1000:.1f} ms "
              f"(min {min(c for c, _ in rows) * 1000:.1f}, max {max(c for c, _ in rows) * 1000:.1f}); "
              f"wall median {statistics.median(w for _, w in rows) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
