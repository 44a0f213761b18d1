"""Scale: the whole `vault ingest` (records, derivations, keyword index) at growing archive sizes.

    nice -n 10 python bench/scale_bench.py --sizes-mb 1024,5120

For each size: builds the archive (`make_archive.py`: the shared Claude Code corpus replicated with
fresh ids), runs `vault ingest --no-embed` as a command (wall time, peak RSS from wait4; stopped if
its RSS passes `--rss-limit-mb`, the machine being shared), an unchanged re-ingest, the vault's size
and row counts, keyword search in-process (median over bench/search_bench.py's queries, beside
`rg -i -F` on the same archive) and as a cold command; then deletes the archive and the vault
(`--keep` keeps them). Each figure is printed beside the smallest size's, with the ratio. Ends with
one JSON line.
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

from bench.search_bench import QUERIES, bench_keyword, dir_size, vault_size  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}


def vault_cmd(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", "from vault.cli import main; main()", "--db", str(db), *args]


def run_measured(cmd: list[str], rss_limit_mb: int) -> dict:
    """Wall seconds, peak RSS (MB) and stdout of one process; killed if its RSS passes the limit."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    over = threading.Event()

    def watch() -> None:
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

    threading.Thread(target=watch, daemon=True).start()
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    return {"seconds": round(time.perf_counter() - t, 2), "peak_rss_mb": usage.ru_maxrss // 1024,
            "ok": status == 0, "rss_limit_hit": over.is_set(), "stdout": out, "stderr": err.decode()[-500:]}


def counts(db: Path) -> dict:
    from vault.store import connect

    con = connect(db, read_only=True)
    try:
        out = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
               for t in ("files", "records", "sessions", "messages", "tool_calls")}
        out["fts_terms"] = con.execute("SELECT count(*) FROM fts_main_fts_docs.terms").fetchone()[0]
        out["fts_docs"] = con.execute("SELECT count(*) FROM fts_main_fts_docs.docs").fetchone()[0]
        return out
    finally:
        con.close()


def measure(size_mb: float, work: Path, rss_limit_mb: int, keep: bool) -> dict:
    archive, db = work / f"archive-{size_mb:.0f}", work / f"scale-{size_mb:.0f}.duckdb"
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    print(f"[{size_mb:.0f} MB] building the archive ...", file=sys.stderr, flush=True)
    make_archive.build(archive, size_mb, quiet=True)
    out: dict = {"archive_mb": round(dir_size(archive) / 2**20, 1)}
    try:
        print(f"[{size_mb:.0f} MB] cold ingest ...", file=sys.stderr, flush=True)
        cold = run_measured(vault_cmd(db, "ingest", str(archive), "--json", "--no-embed"), rss_limit_mb)
        out.update({"cold_ingest_s": cold["seconds"], "cold_peak_rss_mb": cold["peak_rss_mb"],
                    "rss_limit_hit": cold["rss_limit_hit"]})
        if not cold["ok"]:
            out["error"] = "stopped at the RSS limit" if cold["rss_limit_hit"] else cold["stderr"]
            return out
        rep = json.loads(cold["stdout"])
        out["fts_build_s"] = (rep.get("index") or {}).get("fts_seconds")
        out["vault_mb"] = round(vault_size(db) / 2**20, 1)
        out["vault_to_archive"] = round(out["vault_mb"] / out["archive_mb"], 2)
        out.update(counts(db))
        again = run_measured(vault_cmd(db, "ingest", str(archive), "--json", "--no-embed"), rss_limit_mb)
        out.update({"reingest_unchanged_s": again["seconds"], "reingest_peak_rss_mb": again["peak_rss_mb"]})
        from vault.store import open_vault

        con = open_vault(db, read_only=True)
        try:
            bench_keyword(con, archive, QUERIES, out)
        finally:
            con.close()
        cli = [run_measured(vault_cmd(db, "search", "--mode", "keyword", q), rss_limit_mb)
               for q in ("docker", "migration", "error")]
        if not all(c["ok"] and c["stdout"].strip() for c in cli):
            raise SystemExit(f"vault search failed: {[c['stderr'] for c in cli]}")
        out["keyword_command_median_s"] = round(statistics.median(c["seconds"] for c in cli), 2)
        return out
    finally:
        if not keep:
            shutil.rmtree(archive, ignore_errors=True)
            for p in work.glob(f"{db.name}*"):
                p.unlink()


FIGURES = ["archive_mb", "files", "records", "messages", "cold_ingest_s", "fts_build_s", "cold_peak_rss_mb",
           "vault_mb", "vault_to_archive", "fts_terms", "reingest_unchanged_s", "keyword_command_median_s"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes-mb", default="1024,5120")
    ap.add_argument("--work", type=Path, default=HERE / "data")
    ap.add_argument("--rss-limit-mb", type=int, default=4096)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    sizes = [float(s) for s in a.sizes_mb.split(",")]
    a.work.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(a.work).free / 2**20
    need = max(sizes) * 4  # the archive plus a vault up to ~3x its size
    if free_mb < need:
        raise SystemExit(f"{free_mb:.0f} MB free under {a.work}; the {max(sizes):.0f} MB run needs about {need:.0f} MB")
    results = {"bench": "scale", "sizes": {}}
    for size in sizes:
        results["sizes"][f"{size:.0f}"] = measure(size, a.work, a.rss_limit_mb, a.keep)
        print(json.dumps(results["sizes"][f"{size:.0f}"]), file=sys.stderr, flush=True)
    _print(results)
    print(json.dumps(results))


def _print(r: dict) -> None:
    runs = list(r["sizes"].values())
    base = runs[0]
    for key in FIGURES + ["vault_median_ms", "grep_median_ms"]:
        vals = [(run.get("keyword") or {}).get(key) if key.endswith("median_ms") else run.get(key) for run in runs]
        line = f"{key:26}" + "".join(f"{v!s:>14}" for v in vals)
        b, last = vals[0], vals[-1]
        if isinstance(b, int | float) and isinstance(last, int | float) and b:
            line += f"   x{last / b:.2f}"
        print(line)
    if any(run.get("error") for run in runs):
        print("errors:", {k: v.get("error") for k, v in r["sizes"].items() if v.get("error")})
    del base


if __name__ == "__main__":
    main()
