"""CPU time of the keyword index refresh after a one-session append (vault.index.fts_build.refresh), A/B.

Each round is a fresh process per tree (interleaved): it opens a copy of a settled vault, and in one transaction
appends a turn to one session (its last `--turn` messages copied under new ids, their text extended), marks that
session pending, runs `refresh` (its own transaction made part of the outer one) and rolls everything back, so the
vault is the same for every round. Prints the medians of process CPU and wall time of `refresh` alone: the first
refresh of each process (cold: DuckDB reads the blocks) and the median of the next `--repeat` - 1 (warm).

  nice -n 5 .venv/bin/python bench/fts_refresh_bench.py --vault V.duckdb --baseline /tmp/base-tree --rounds 9
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import contextlib, json, sys, time
import duckdb
from vault.index import fts_build
vault, session, turn = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect(vault)
fts_build.transaction = lambda c: contextlib.nullcontext(c)
runs = []
for i in range(int(sys.argv[4])):
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM pending_sessions")
    con.execute(f'''INSERT INTO messages SELECT * REPLACE (msg_id || ':bench' AS msg_id, seq + 100000 AS seq,
                    text || ' benchword' || seq AS text)
                    FROM (SELECT * FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT {turn})''', [session])
    con.execute("INSERT INTO pending_sessions VALUES (?)", [session])
    c0, w0 = time.process_time(), time.perf_counter()
    out = fts_build.refresh(con)
    c1, w1 = time.process_time(), time.perf_counter()
    con.execute("ROLLBACK")
    runs.append({"cpu": c1 - c0, "wall": w1 - w0, "appended": out["fts_appended"], "added": out["fts_added"]})
first, rest = runs[0], runs[1:]
first["warm"] = sorted(r["cpu"] for r in rest)[len(rest) // 2] if rest else None
print(json.dumps(first))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vault", required=True)
    ap.add_argument("--baseline", required=True, help="a checkout of the tree to compare with")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--turn", type=int, default=4)
    ap.add_argument("--session", default=None)
    ap.add_argument("--repeat", type=int, default=5, help="refreshes per process: the first cold, the rest warm")
    a = ap.parse_args()
    import duckdb
    con = duckdb.connect(a.vault, read_only=True)
    session = a.session or con.execute(
        "SELECT session_id FROM messages GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1 OFFSET 5").fetchone()[0]
    con.close()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = {"this": here, "base": os.path.abspath(a.baseline)}
    res: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(a.rounds):
        for name in (("this", "base") if r % 2 == 0 else ("base", "this")):
            env = dict(os.environ, PYTHONPATH=trees[name], PYTHONDONTWRITEBYTECODE="1")
            out = subprocess.run([sys.executable, "-c", CHILD, a.vault, session, str(a.turn), str(a.repeat)], env=env,
                                 cwd=trees[name], capture_output=True, text=True, check=True)
            res[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    with contextlib.suppress(OSError):
        print("load", os.getloadavg())
    print("session", session, "turn", a.turn, "rounds", a.rounds, time.strftime("%H:%M:%S UTC", time.gmtime()))
    for name, rows in res.items():
        cpu = [x["cpu"] * 1000 for x in rows]
        warm = [x["warm"] * 1000 for x in rows if x["warm"] is not None]
        print(f"{name}: cpu median {statistics.median(cpu):.1f} ms (min {min(cpu):.1f}, max {max(cpu):.1f}); "
              f"wall median {statistics.median(x['wall'] for x in rows) * 1000:.1f} ms; "
              f"warm cpu median {statistics.median(warm) if warm else float('nan'):.1f} ms; "
              f"appended {sorted({x['appended'] for x in rows})} added {sorted({x['added'] for x in rows})}")


if __name__ == "__main__":
    main()
