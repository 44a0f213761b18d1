"""Scale: the whole `vault ingest` (records, derivations, keyword index) at growing archive sizes.

    nice -n 10 python bench/scale_bench.py --sizes-mb 1024,5120 --work /work/bench-data/NAME

For each size: builds the archive (`make_archive.py`: the shared Claude Code corpus replicated with
fresh ids; copies already under `--work` are reused), runs `vault ingest --no-embed` as a command (wall
and CPU time; peak memory: the writer's RSS from wait4 and the sum over it and its parse workers,
sampled; stopped if the writer's RSS passes `--rss-limit-mb`, the machine being shared), an unchanged
re-ingest, the vault's size, its row counts and what the keyword index takes (its tables' rows and bytes),
keyword search in-process (median over bench/search_bench.py's queries, beside `rg -i -F` on the same
archive, CPU beside wall) and as a cold command (`vault search --mode keyword --json`); the load average
before and after each step; then deletes the archive and the vault (`--keep` keeps them). Each figure is
printed beside the smallest size's, with the ratio. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
import make_archive  # noqa: E402
from _common import fresh_vault, measured  # noqa: E402

from bench.search_bench import QUERIES, bench_keyword, dir_size, vault_size  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}


def vault_cmd(db: Path, *args: str) -> list[str]:
    from _common import VAULT

    return [*VAULT, "--db", str(db), *args]


def run_measured(cmd: list[str], rss_limit_mb: int) -> dict:
    """Wall and CPU seconds (its workers included), peak RSS (MB: the process's own, and summed over it and its
    workers) and stdout of one process; killed if its RSS passes the limit."""
    load = os.getloadavg()[0]
    over = threading.Event()

    def watch(proc: subprocess.Popen) -> None:
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                rss_kb = next(int(line.split()[1]) for line in status.read_text().splitlines()
                              if line.startswith("VmRSS:"))
            except (OSError, StopIteration, ValueError):
                return
            if rss_kb > rss_limit_mb * 1024:
                over.set()
                os.kill(proc.pid, signal.SIGKILL)
                return
            time.sleep(0.2)

    run = measured(cmd, env=ENV, capture_err=True, watch=watch)
    return {"seconds": round(run.wall_s, 2), "peak_rss_mb": run.peak_rss_mb,
            "tree_peak_rss_mb": run.tree_rss_mb, "tree_peak_pss_mb": run.tree_pss_mb,
            "cpu_s": round(run.cpu_s, 2),  # steadier than wall on a shared machine
            "load": [round(load, 1), round(os.getloadavg()[0], 1)],
            "ok": run.code == 0, "rss_limit_hit": over.is_set(), "stdout": run.out, "stderr": run.err.decode()[-500:]}


def counts(db: Path) -> dict:
    """Rows of the main tables and of the keyword index (index layout 7: its dictionary of terms, the postings
    of its main segment and of its delta, its documents), and the bytes the index's tables take."""
    from vault.index import fts
    from vault.storage import table_sizes
    from vault.store import connect

    con = connect(db, read_only=True)
    try:
        out = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
               for t in ("files", "records", "sessions", "messages", "tool_calls")}
        for name, table in (("fts_terms", "dict"), ("fts_postings", "postings"), ("fts_delta", "delta"),
                            ("fts_docs", "docs")):
            out[name] = con.execute(f"SELECT count(*) FROM {fts.SCHEMA}.{table}").fetchone()[0]
        sizes = table_sizes(con)["tables"]
        index = [v["bytes"] for k, v in sizes.items() if k.startswith(fts.SCHEMA) or k.startswith("fts_")]
        out["fts_mb"] = round(sum(index) / 2**20, 1)
        out["largest_tables_mb"] = {k: round(v["bytes"] / 2**20, 1) for k, v in list(sizes.items())[:6]}
        return out
    finally:
        con.close()


def measure(size_mb: float, work: Path, rss_limit_mb: int, keep: bool, rounds: int = 3) -> dict:
    archive, db = work / f"archive-{size_mb:.0f}", fresh_vault(work / f"scale-{size_mb:.0f}.duckdb")
    print(f"[{size_mb:.0f} MB] building the archive ...", file=sys.stderr, flush=True)
    make_archive.build(archive, size_mb, quiet=True)
    out: dict = {"archive_mb": round(dir_size(archive) / 2**20, 1)}
    try:
        print(f"[{size_mb:.0f} MB] cold ingest ...", file=sys.stderr, flush=True)
        cold = run_measured(vault_cmd(db, "ingest", str(archive), "--json", "--no-embed"), rss_limit_mb)
        out.update({"cold_ingest_s": cold["seconds"], "cold_ingest_cpu_s": cold["cpu_s"],
                    "cold_peak_rss_mb": cold["peak_rss_mb"], "cold_tree_peak_rss_mb": cold["tree_peak_rss_mb"],
                    "cold_tree_peak_pss_mb": cold["tree_peak_pss_mb"], "cold_load": cold["load"],
                    "rss_limit_hit": cold["rss_limit_hit"]})
        if not cold["ok"]:
            out["error"] = "stopped at the RSS limit" if cold["rss_limit_hit"] else cold["stderr"]
            return out
        try:
            rep = json.loads(cold["stdout"])
        except ValueError:
            raise SystemExit(f"vault ingest --json printed no JSON: {cold['stdout'][:200]!r}") from None
        out["fts_build_s"] = (rep.get("index") or {}).get("fts_seconds")
        out["vault_mb"] = round(vault_size(db) / 2**20, 1)
        out["vault_to_archive"] = round(out["vault_mb"] / out["archive_mb"], 2)
        out.update(counts(db))
        again = run_measured(vault_cmd(db, "ingest", str(archive), "--json", "--no-embed"), rss_limit_mb)
        out.update({"reingest_unchanged_s": again["seconds"], "reingest_cpu_s": again["cpu_s"],
                    "reingest_peak_rss_mb": again["peak_rss_mb"], "reingest_load": again["load"]})
        from vault.store import open_vault

        con = open_vault(db, read_only=True)
        try:
            bench_keyword(con, archive, QUERIES, out, rounds=rounds)
        finally:
            con.close()
        cli = [run_measured(vault_cmd(db, "search", "--mode", "keyword", "--json", q), rss_limit_mb)
               for _ in range(3) for q in ("docker", "migration", "error")]
        if not all(c["ok"] and c["stdout"].strip() for c in cli):
            raise SystemExit(f"vault search failed: {[c['stderr'] for c in cli]}")
        out["keyword_command_median_s"] = round(statistics.median(c["seconds"] for c in cli), 3)
        out["keyword_command_cpu_s"] = round(statistics.median(c["cpu_s"] for c in cli), 3)
        out["keyword_command_load"] = [cli[0]["load"][0], cli[-1]["load"][1]]
        return out
    finally:
        if not keep:
            shutil.rmtree(archive, ignore_errors=True)
            for p in work.glob(f"{db.name}*"):
                p.unlink()


FIGURES = ["archive_mb", "files", "records", "messages", "cold_ingest_s", "cold_ingest_cpu_s", "fts_build_s",
           "cold_peak_rss_mb", "cold_tree_peak_rss_mb", "cold_tree_peak_pss_mb", "vault_mb", "vault_to_archive",
           "fts_terms", "fts_postings", "fts_mb", "reingest_unchanged_s", "reingest_cpu_s",
           "keyword_command_median_s", "keyword_command_cpu_s"]
KEYWORD = ["vault_median_ms", "vault_cpu_median_ms", "grep_median_ms", "grep_cpu_median_ms", "speedup"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes-mb", default="1024,5120")
    ap.add_argument("--work", type=Path, default=HERE / "data")
    ap.add_argument("--rss-limit-mb", type=int, default=4096)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the in-process keyword queries (and rg)")
    a = ap.parse_args(argv)
    sizes = [float(s) for s in a.sizes_mb.split(",")]
    a.work.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(a.work).free / 2**20
    need = max(sizes) * 2  # the archive plus a vault (about half its size since m010) and room to spare
    if free_mb < need:
        raise SystemExit(f"{free_mb:.0f} MB free under {a.work}; the {max(sizes):.0f} MB run needs about {need:.0f} MB")
    results = {"bench": "scale", "sizes": {}}
    for size in sizes:
        results["sizes"][f"{size:.0f}"] = measure(size, a.work, a.rss_limit_mb, a.keep, a.rounds)
        print(json.dumps(results["sizes"][f"{size:.0f}"]), file=sys.stderr, flush=True)
    _print(results)
    print(json.dumps(results))


def _print(r: dict) -> None:
    runs = list(r["sizes"].values())
    for key in FIGURES + KEYWORD:
        vals = [(run.get("keyword") or {}).get(key) if key in KEYWORD else run.get(key) for run in runs]
        line = f"{key:26}" + "".join(f"{v!s:>14}" for v in vals)
        b, last = vals[0], vals[-1]
        if isinstance(b, int | float) and isinstance(last, int | float) and b:
            line += f"   x{last / b:.2f}"
        print(line)
    if any(run.get("error") for run in runs):
        print("errors:", {k: v.get("error") for k, v in r["sizes"].items() if v.get("error")})


if __name__ == "__main__":
    main()
