"""Ingest benchmark: cold ingest MB/s against DuckDB's own read_ndjson scan of the same files,
unchanged re-ingest time, and peak memory at two archive sizes.

    python bench/ingest_bench.py                 # 1 GB archive (built once under bench/data/)
    python bench/ingest_bench.py --size-mb 100   # a quick run

Each measurement runs in a fresh child process, so peak RSS (from wait4) is that step's own.
The last line printed is one JSON object with every figure (bench/run.py collects it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_archive  # noqa: E402

DATA = HERE / "data"


def _child(*args: str) -> tuple[dict, float, int]:
    """Run this file in child mode; returns (its JSON answer, wall seconds, peak RSS in MB)."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"child {args[0]} failed with status {status}")
    return json.loads(out.decode().strip().splitlines()[-1]), wall, usage.ru_maxrss // 1024


# -- child steps ------------------------------------------------------------------------------
def child_ingest(db: str, paths: list[str]) -> None:
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(db)
    t = time.perf_counter()
    rep = ingest(con, paths)
    secs = time.perf_counter() - t
    con.close()
    print(json.dumps({"seconds": secs, "files": rep.files, "unchanged": rep.files_unchanged,
                      "messages_added": rep.messages_added, "skipped": rep.skipped_lines}))


def _scan_sql(paths: list[str], projection: bool) -> str:
    files = ", ".join(f"'{p}/**/*.jsonl'" for p in paths)
    opts = "maximum_object_size = 67108864, ignore_errors = true, union_by_name = true"
    if projection:  # only the envelope fields an indexer needs; message kept as JSON text
        cols = ("{'type': 'VARCHAR', 'uuid': 'VARCHAR', 'parentUuid': 'VARCHAR', 'sessionId': 'VARCHAR', "
                "'timestamp': 'VARCHAR', 'message': 'JSON'}")
        return f"SELECT count(*), count(uuid), sum(length(message)) FROM read_ndjson([{files}], columns = {cols}, {opts})"
    # Every field of every record parsed and materialised (count(COLUMNS(*)) touches all columns).
    return f"SELECT count(*), count(COLUMNS(*)) FROM read_ndjson([{files}], {opts})"


def child_scan(mode: str, paths: list[str]) -> None:
    import duckdb

    con = duckdb.connect()
    if mode == "full-1-thread":  # the ingest is one Python thread: the same scan on one core
        con.execute("SET threads = 1")
    t = time.perf_counter()
    row = con.execute(_scan_sql(paths, mode == "projection")).fetchone()
    print(json.dumps({"seconds": time.perf_counter() - t, "rows": row[0]}))


# -- driver -----------------------------------------------------------------------------------
def _size_mb(paths: list[Path]) -> float:
    return sum(f.stat().st_size for p in paths for f in p.rglob("*.jsonl")) / 2**20


def measure(paths: list[Path], tag: str, scan: bool) -> dict:
    db = DATA / f"bench-{tag}.duckdb"
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    args = [str(p) for p in paths]
    mb = _size_mb(paths)
    cold, cold_wall, cold_rss = _child("--child-ingest", str(db), *args)
    again, again_wall, again_rss = _child("--child-ingest", str(db), *args)
    assert again["messages_added"] == 0 and again["files"] == 0, again
    out = {
        "archive_mb": round(mb, 1),
        "files": cold["files"],
        "messages": cold["messages_added"],
        "skipped_lines": cold["skipped"],
        "cold_ingest_s": round(cold["seconds"], 2),
        "cold_ingest_mb_s": round(mb / cold["seconds"], 1),
        "cold_peak_rss_mb": cold_rss,
        "reingest_unchanged_s": round(again["seconds"], 3),
        "reingest_process_wall_s": round(again_wall, 2),
        "reingest_peak_rss_mb": again_rss,
        "vault_mb": round(db.stat().st_size / 2**20, 1),
    }
    if scan:
        full, _, full_rss = _child("--child-scan", "full", *args)
        proj, _, _ = _child("--child-scan", "projection", *args)
        one, _, _ = _child("--child-scan", "full-1-thread", *args)
        out.update({
            "duckdb_scan_s": round(full["seconds"], 2),
            "duckdb_scan_mb_s": round(mb / full["seconds"], 1),
            "duckdb_scan_peak_rss_mb": full_rss,
            "ratio_ingest_to_scan": round(cold["seconds"] / full["seconds"], 2),
            "duckdb_scan_1_thread_s": round(one["seconds"], 2),
            "ratio_ingest_to_scan_1_thread": round(cold["seconds"] / one["seconds"], 2),
            "duckdb_projection_scan_s": round(proj["seconds"], 2),
            "ratio_ingest_to_projection_scan": round(cold["seconds"] / proj["seconds"], 1),
        })
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child-ingest":
        return child_ingest(argv[1], argv[2:])
    if argv and argv[0] == "--child-scan":
        return child_scan(argv[1], argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=1024, help="the large archive (default 1 GB)")
    ap.add_argument("--small-fraction", type=float, default=0.25, help="the small archive, for memory flatness")
    ap.add_argument("--archive", type=Path, default=DATA / "archive")
    ap.add_argument("--keep", action="store_true", help="keep the bench vaults under bench/data/")
    a = ap.parse_args(argv)

    DATA.mkdir(parents=True, exist_ok=True)
    print(f"building the archive in {a.archive} ...", file=sys.stderr)
    copies = make_archive.build(a.archive, a.size_mb, quiet=True)
    small = copies[: max(1, round(len(copies) * a.small_fraction))]
    results = {"bench": "ingest"}
    for tag, paths, scan in (("small", small, False), ("large", copies, True)):
        print(f"measuring {tag}: {len(paths)} copies ...", file=sys.stderr)
        results[tag] = measure(paths, tag, scan)
        if not a.keep:
            for p in DATA.glob(f"bench-{tag}.duckdb*"):
                p.unlink()
    lg, sm = results["large"], results["small"]
    results["rss_growth_large_vs_small"] = round(lg["cold_peak_rss_mb"] / max(1, sm["cold_peak_rss_mb"]), 2)
    results["size_growth_large_vs_small"] = round(lg["archive_mb"] / max(1, sm["archive_mb"]), 2)
    _print(results)
    print(json.dumps(results))


def _print(r: dict) -> None:
    lg, sm = r["large"], r["small"]
    print(f"archive: {lg['archive_mb']:.0f} MB, {lg['files']} files, {lg['messages']} messages, "
          f"{lg['skipped_lines']} skipped lines")
    print(f"cold ingest:            {lg['cold_ingest_s']:8.1f} s  {lg['cold_ingest_mb_s']:7.1f} MB/s")
    print(f"DuckDB read_ndjson:     {lg['duckdb_scan_s']:8.1f} s  {lg['duckdb_scan_mb_s']:7.1f} MB/s "
          f"(every field)  -> ingest / scan = {lg['ratio_ingest_to_scan']}x")
    print(f"  on one thread:        {lg['duckdb_scan_1_thread_s']:8.1f} s  "
          f"-> ingest / scan = {lg['ratio_ingest_to_scan_1_thread']}x")
    print(f"  projection only:      {lg['duckdb_projection_scan_s']:8.2f} s  "
          f"(6 envelope fields)  -> ingest / scan = {lg['ratio_ingest_to_projection_scan']}x")
    print(f"unchanged re-ingest:    {lg['reingest_unchanged_s']:8.3f} s  (whole process {lg['reingest_process_wall_s']} s)")
    print(f"peak RSS, cold ingest:  {sm['cold_peak_rss_mb']} MB at {sm['archive_mb']:.0f} MB, "
          f"{lg['cold_peak_rss_mb']} MB at {lg['archive_mb']:.0f} MB "
          f"(x{r['rss_growth_large_vs_small']} for x{r['size_growth_large_vs_small']} data)")


if __name__ == "__main__":
    main()
