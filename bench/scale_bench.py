"""Scale: the whole `vault ingest` (records, derivations, keyword index) at growing archive sizes.

    nice -n 10 python bench/scale_bench.py --sizes-mb 1024,5120 --work /work/bench-data/NAME
    nice -n 10 python bench/scale_bench.py --sizes-mb 1024,5120 --work DIR --embed \
        --archive 1024=/work/bench-data/archive --archive 5120=/work/bench-data/scale/archive-5g

For each size: builds the archive (`make_archive.py`: the shared Claude Code corpus replicated with
fresh ids; copies already under `--work` are reused; an archive named by `--archive SIZE=PATH` is only
read, never deleted), runs `vault ingest --no-embed` as a command (wall
and CPU time; peak memory: the writer's RSS from wait4 and the sum over it and its parse workers,
sampled; stopped if the writer's RSS passes `--rss-limit-mb`, the machine being shared), an unchanged
re-ingest, the vault's size, its row counts and what the keyword index takes (its tables' rows and bytes),
keyword search in-process (median over bench/search_bench.py's queries, beside `rg -i -F` on the same
archive, CPU beside wall) and as a cold command (`vault search --mode keyword --json`); with `--embed`,
`vault embed` as a command (wall, CPU, peak memory), the embeddings' bytes, and semantic and hybrid search
in-process (median over the same queries, the model and vectors loaded first); the load average before and
after each step; then deletes the archive it built and the vault (`--keep` keeps them). Each figure is
printed beside the smallest size's, with the ratio. Ends with one JSON line.

Every `vault` child runs this tree's package (put first on its path: a shared virtualenv's editable install
may point at another checkout), checked once at the start; the in-process steps import it too.
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
from _common import fresh_vault, measured, src_env  # noqa: E402

from bench.search_bench import QUERIES, bench_keyword, dir_size, vault_size  # noqa: E402

# This tree's `vault` first on every child's path (not the editable install's checkout).
ENV = src_env(ROOT, HF_HUB_OFFLINE="1", NO_COLOR="1", TOKENIZERS_PARALLELISM="false")


def check_tree() -> str:
    """The `vault` package a child imports: this tree's, else the bench stops."""
    got = subprocess.run([sys.executable, "-c", "import vault; print(vault.__file__)"], env=ENV,
                         capture_output=True, text=True, check=True).stdout.strip()
    want = ROOT / "vault" / "__init__.py"
    if Path(got).resolve() != want.resolve():
        raise SystemExit(f"children import {got}, not this tree's {want}")
    import vault

    if Path(vault.__file__).resolve() != want.resolve():
        raise SystemExit(f"this process imports {vault.__file__}, not this tree's {want}")
    return str(want.parent)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


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
    return {"seconds": round(run.wall_s, 2), "peak_rss_mb": run.peak_rss_mb, "bench_rss_mb": run.parent_rss_mb,
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


def measure(size_mb: float, work: Path, rss_limit_mb: int, keep: bool, rounds: int = 3,
            archive: Path | None = None, embed: bool = False) -> dict:
    given = archive is not None  # (only read: never deleted)
    archive, db = archive or work / f"archive-{size_mb:.0f}", fresh_vault(work / f"scale-{size_mb:.0f}.duckdb")
    if not given:
        print(f"[{size_mb:.0f} MB] building the archive ...", file=sys.stderr, flush=True)
        make_archive.build(archive, size_mb, quiet=True)
    out: dict = {"archive": str(archive), "archive_mb": round(dir_size(archive) / 2**20, 1),
                 "uptime_before": uptime()}
    try:
        print(f"[{size_mb:.0f} MB] cold ingest ...", file=sys.stderr, flush=True)
        cold = run_measured(vault_cmd(db, "ingest", str(archive), "--json", "--no-embed"), rss_limit_mb)
        out.update({"cold_ingest_s": cold["seconds"], "cold_ingest_cpu_s": cold["cpu_s"],
                    "cold_peak_rss_mb": cold["peak_rss_mb"], "cold_tree_peak_rss_mb": cold["tree_peak_rss_mb"],
                    "cold_tree_peak_pss_mb": cold["tree_peak_pss_mb"], "cold_load": cold["load"],
                    "cold_bench_rss_mb": cold["bench_rss_mb"],
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
        if embed:
            embedded(db, out, rss_limit_mb)
        out["uptime_after"] = uptime()
        return out
    finally:
        if not keep and not given:
            shutil.rmtree(archive, ignore_errors=True)
        if not keep:
            for p in work.glob(f"{db.name}*"):
                p.unlink()


def embedded(db: Path, out: dict, rss_limit_mb: int) -> None:
    """`vault embed` as a command, the embeddings' bytes, then semantic and hybrid search in-process."""
    print(f"[{db.name}] vault embed ...", file=sys.stderr, flush=True)
    run = run_measured(vault_cmd(db, "embed", "--json"), rss_limit_mb)
    out.update({"embed_s": run["seconds"], "embed_cpu_s": run["cpu_s"], "embed_peak_rss_mb": run["peak_rss_mb"],
                "embed_bench_rss_mb": run["bench_rss_mb"],
                "embed_tree_peak_rss_mb": run["tree_peak_rss_mb"], "embed_load": run["load"]})
    if not run["ok"]:
        out["embed_error"] = run["stderr"]
        return
    from vault.storage import storage_report
    from vault.store import open_vault

    out["vault_embedded_mb"] = round(vault_size(db) / 2**20, 1)
    con = open_vault(db, read_only=True)
    try:
        out["chunks"] = con.execute("SELECT count(*) FROM chunks").fetchone()[0]
        out["vectors"] = con.execute("SELECT count(*) FROM vectors").fetchone()[0]
        out["embeddings_mb"] = round(storage_report(con, None)["embeddings"]["bytes"] / 2**20, 1)
        out["embeddings_to_archive"] = round(out["embeddings_mb"] / out["archive_mb"], 3)
        semantic_and_hybrid(con, out)
    finally:
        con.close()


def semantic_and_hybrid(con, out: dict) -> None:
    """Median wall and CPU over QUERIES of semantic and hybrid search (limit 20), after one search that loads the
    model and the vectors (timed apart)."""
    from vault.index.search import hybrid_search, semantic_search

    t = time.perf_counter()
    semantic_search(con, "load the model and the vectors")
    out["model_and_vectors_load_s"] = round(time.perf_counter() - t, 2)
    for name, fn in (("semantic", semantic_search), ("hybrid", hybrid_search)):
        wall, cpu = [], []
        for q in QUERIES:
            t, c = time.perf_counter(), time.process_time()
            fn(con, f'"{q}"' if " " in q and name == "hybrid" else q, 20)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        out[f"{name}_median_ms"] = round(1000 * statistics.median(wall), 1)
        out[f"{name}_cpu_median_ms"] = round(1000 * statistics.median(cpu), 1)


FIGURES = ["archive_mb", "files", "records", "messages", "cold_ingest_s", "cold_ingest_cpu_s", "fts_build_s",
           "cold_peak_rss_mb", "cold_tree_peak_rss_mb", "cold_tree_peak_pss_mb", "vault_mb", "vault_to_archive",
           "fts_terms", "fts_postings", "fts_mb", "reingest_unchanged_s", "reingest_cpu_s",
           "keyword_command_median_s", "keyword_command_cpu_s", "embed_s", "embed_cpu_s", "embed_peak_rss_mb",
           "chunks", "vectors", "embeddings_mb", "embeddings_to_archive", "vault_embedded_mb",
           "model_and_vectors_load_s", "semantic_median_ms", "semantic_cpu_median_ms", "hybrid_median_ms",
           "hybrid_cpu_median_ms"]
KEYWORD = ["vault_median_ms", "vault_cpu_median_ms", "grep_median_ms", "grep_cpu_median_ms", "speedup"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes-mb", default="1024,5120")
    ap.add_argument("--work", type=Path, default=HERE / "data")
    ap.add_argument("--rss-limit-mb", type=int, default=4096)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the in-process keyword queries (and rg)")
    ap.add_argument("--archive", action="append", default=[], metavar="SIZE=PATH",
                    help="an archive already built for that size (only read, never deleted); repeatable")
    ap.add_argument("--embed", action="store_true", help="also `vault embed`, semantic and hybrid search")
    a = ap.parse_args(argv)
    sizes = [float(s) for s in a.sizes_mb.split(",")]
    given = {}
    for item in a.archive:
        size, sep, path = item.partition("=")
        if not sep or float(size) not in sizes or not Path(path).is_dir():
            raise SystemExit(f"--archive {item!r}: expected SIZE=PATH, SIZE one of --sizes-mb, PATH a folder")
        given[float(size)] = Path(path)
    a.work.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(a.work).free / 2**20
    need = max(s * (1 if s in given else 2) for s in sizes)  # an archive to build, a vault (~0.46x), room to spare
    if free_mb < need:
        raise SystemExit(f"{free_mb:.0f} MB free under {a.work}; the {max(sizes):.0f} MB run needs about {need:.0f} MB")
    results = {"bench": "scale", "vault_pkg": check_tree(), "uptime": uptime(), "sizes": {}}
    for size in sizes:
        results["sizes"][f"{size:.0f}"] = measure(size, a.work, a.rss_limit_mb, a.keep, a.rounds,
                                                  given.get(size), a.embed)
        print(json.dumps(results["sizes"][f"{size:.0f}"]), file=sys.stderr, flush=True)
    results["uptime_after"] = uptime()
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
