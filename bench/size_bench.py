"""Size bench (issue 14): the vault after a plain first `vault ingest --no-embed` of an archive, beside another
tree's (main's) in the same run, and the upgrade of that tree's vault by this one.

    git worktree add --detach /tmp/base-storage main
    nice -n 5 python bench/size_bench.py --archive /work/bench-data/archive --baseline-src /tmp/base-storage \\
        --work /work/bench-data/storage [--rounds 2] [--keep]

Each ingest is the whole command (`vault --db DB ingest --no-embed --json ARCHIVE`, run as the `vault` program
would be, with the `vault` package of the tree first on the path) in a fresh child process into a new vault:
its wall time, CPU time (user + system, its parse workers included, from wait4), the peak RSS of its largest
process (wait4) and the peak of the RSS summed over it and its workers (sampled every 200 ms). Then the file:
its bytes (with any WAL), DuckDB's used and free blocks, the ratio to the archive (the bytes of the files the
vault read), and the size by table (`vault.storage.table_sizes`). The rounds alternate the two trees.
`--upgrade` (default on with a baseline): a copy of the baseline's vault opened by this tree (its migrations,
backup and rewrite), timed the same way. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _common import fresh_vault, measured, src_env  # noqa: E402

MB = 2 ** 20
RUN_VAULT = "import sys; from vault.cli import main; sys.argv[0] = 'vault'; main()"
OPEN_VAULT = ("import sys, time; from vault.store import open_vault; t = time.perf_counter(); "
              "open_vault(sys.argv[1]).close(); print(time.perf_counter() - t)")


def _run(args: list[str], src: Path) -> tuple[dict, str]:
    """A child process with the `vault` package of `src` first on its path (and its workers'): wall, CPU, peaks."""
    run = measured([sys.executable, *args], env=src_env(src), cwd=src)
    if run.code != 0:
        raise SystemExit(f"{args} with {src} failed with exit code {run.code}")
    return {"wall_s": round(run.wall_s, 2), "cpu_s": round(run.cpu_s, 2),
            "peak_rss_mb": run.peak_rss_mb, "tree_peak_rss_mb": run.tree_rss_mb}, run.out.decode()


def file_figures(db: Path) -> dict:
    """The file's bytes, used and free blocks, storage version, archive bytes, ratio and sizes by table."""
    import duckdb

    from vault.storage import table_sizes

    con = duckdb.connect(str(db), read_only=True)
    try:
        sizes = table_sizes(con)
        archive = con.execute("SELECT coalesce(sum(size), 0) FROM files WHERE source <> 'unrecognised'").fetchone()[0]
        tags = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    finally:
        con.close()
    wal = Path(f"{db}.wal")
    file_bytes = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    block = sizes["block_size"]
    return {"file_mb": round(file_bytes / MB, 1), "used_mb": round(sizes["used_blocks"] * block / MB, 1),
            "free_mb": round(sizes["free_blocks"] * block / MB, 1), "archive_mb": round(archive / MB, 1),
            "ratio_to_archive": round(file_bytes / archive, 3), "storage_version": (tags or {}).get("storage_version"),
            "tables_mb": {t: round(v["bytes"] / MB, 1) for t, v in sizes["tables"].items() if v["bytes"] >= MB}}


def ingest(archive: Path, db: Path, src: Path) -> dict:
    """The whole `vault ingest --no-embed` command into a new vault, and the file it leaves."""
    run, out = _run(["-c", RUN_VAULT, "--db", str(fresh_vault(db)), "ingest", "--no-embed", "--json", str(archive)], src)
    rep = json.loads(out)
    run["messages_added"] = rep["messages_added"]
    run["keyword_index_s"] = (rep.get("index") or {}).get("fts_seconds")
    return {**run, **file_figures(db)}


def upgrade(old: Path, db: Path, src: Path) -> dict:
    """A copy of `old` (another version's vault) opened for writing by `src`: migrations, backup, rewrite."""
    fresh_vault(db)
    shutil.copy2(old, db)
    run, out = _run(["-c", OPEN_VAULT, str(db)], src)
    run["open_s"] = round(float(out.strip().splitlines()[-1]), 2)
    figures = file_figures(db)
    for backup in db.parent.glob(f"{db.name}.bak-*"):
        backup.unlink()
    return {**run, **figures}


READS = """
import json, statistics, sys, time
sys.path.insert(0, sys.argv[2])
from search_bench import QUERIES
from vault.index.search import keyword_search
from vault.queries import session_messages
from vault.store import connect

con = connect(sys.argv[1], read_only=True)
def timed(fn, *args):
    w, c = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - w, time.process_time() - c
out = {}
hits = [timed(keyword_search, con, q, 20) for q in QUERIES]
out["keyword_search"] = hits
big = [r[0] for r in con.execute("SELECT session_id FROM messages GROUP BY 1 ORDER BY count(*) DESC LIMIT 5").fetchall()]
out["show_session"] = [timed(session_messages, con, s) for s in big]
ids = [r[0] for r in con.execute("SELECT msg_id FROM messages USING SAMPLE 200 ROWS (reservoir, 7)").fetchall()]
def by_id(batch):
    con.execute(f"SELECT msg_id, text FROM messages WHERE msg_id IN ({', '.join('?' * len(batch))})", batch).fetchall()
out["20_messages_by_id"] = [timed(by_id, ids[i:i + 20]) for i in range(0, 200, 20)]
print(json.dumps({k: {"wall_ms": round(1000 * statistics.median(w for w, _ in v), 2),
                      "cpu_ms": round(1000 * statistics.median(c for _, c in v), 2)} for k, v in out.items()}))
"""


def reads(db: Path) -> dict:
    """Median latencies in a fresh process (this tree's code, the vault read as it is): keyword search over
    search_bench's queries, a session's messages (`vault show`) for the 5 largest sessions, 20 messages by id."""
    _, out = _run(["-c", READS, str(db), str(HERE)], ROOT)
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", type=Path, default=Path("/work/bench-data/archive"))
    ap.add_argument("--baseline-src", type=Path, help="another tree (e.g. a worktree of main) measured beside this")
    ap.add_argument("--work", type=Path, default=HERE / "data" / "size", help="where the vaults are written")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-upgrade", action="store_true", help="skip the upgrade of the baseline's vault")
    ap.add_argument("--keep", action="store_true", help="keep the vaults (deleted by default)")
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    trees = {"this": ROOT, **({"baseline": a.baseline_src.resolve()} if a.baseline_src else {})}
    for src in trees.values():  # each child runs its own tree's package (not the one installed)
        _, found = _run(["-c", "import vault; print(vault.__file__)"], src)
        assert Path(found.strip()).parent == src / "vault", (src, found)
    res: dict = {"bench": "size", "archive": str(a.archive), "load_before": [round(x, 2) for x in os.getloadavg()],
                 "runs": {k: [] for k in trees}}
    for r in range(a.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for name in order:
            fig = ingest(a.archive, a.work / f"size-{name}.duckdb", trees[name])
            res["runs"][name].append(fig)
            _print_run(name, fig)
    res["reads"] = {}
    for name in trees:
        res["reads"][name] = reads(a.work / f"size-{name}.duckdb")
        print(f"reads on {name}'s vault (median wall / CPU ms): "
              + "; ".join(f"{k} {v['wall_ms']} / {v['cpu_ms']}" for k, v in res["reads"][name].items()), flush=True)
    if "baseline" in trees and not a.no_upgrade:
        fig = upgrade(a.work / "size-baseline.duckdb", a.work / "size-upgraded.duckdb", ROOT)
        res["upgrade"] = fig
        print(f"upgrade of the baseline's vault by this tree: open {fig['open_s']} s (process {fig['wall_s']} s wall, "
              f"CPU {fig['cpu_s']} s), peak RSS {fig['peak_rss_mb']} MB; file {fig['file_mb']} MB "
              f"({fig['ratio_to_archive']}x), free {fig['free_mb']} MB")
        if not a.keep:
            fresh_vault(a.work / "size-upgraded.duckdb")
    if "baseline" in trees:
        best = {k: min(v, key=lambda f: f["wall_s"]) for k, v in res["runs"].items()}
        mine, base = best["this"], best["baseline"]
        res["ratios_this_to_baseline"] = {k: round(mine[k] / base[k], 3) for k in
                                          ("file_mb", "wall_s", "cpu_s", "peak_rss_mb", "tree_peak_rss_mb")}
        print(f"this / baseline (fastest round of each): {res['ratios_this_to_baseline']}")
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average before / after: {res['load_before']} / {res['load_after']}")
    if not a.keep:
        for name in trees:
            fresh_vault(a.work / f"size-{name}.duckdb")
    print(json.dumps(res))


def _print_run(name: str, f: dict) -> None:
    print(f"{name}: vault {f['file_mb']} MB = {f['ratio_to_archive']}x the archive ({f['archive_mb']} MB); "
          f"used {f['used_mb']} MB, free blocks {f['free_mb']} MB; storage {f['storage_version']}; "
          f"command {f['wall_s']} s wall, CPU {f['cpu_s']} s, peak RSS {f['peak_rss_mb']} MB (largest process), "
          f"{f['tree_peak_rss_mb']} MB summed; keyword index {f['keyword_index_s']} s", flush=True)
    print("   by table (MB): " + ", ".join(f"{t} {mb}" for t, mb in f["tables_mb"].items()), flush=True)


if __name__ == "__main__":
    main()
