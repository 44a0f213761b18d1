"""Whole-process wall time of `vault search` from a cold shell, beside the in-process search time.

    python bench/search_modes_cli_bench.py                 # the bundled examples/, in a temporary vault
    python bench/search_modes_cli_bench.py --db VAULT      # an existing, embedded vault
    python bench/search_modes_cli_bench.py --repeat 5

What a person waits for when they type `vault search ...`: the interpreter start, the imports, the
model load (hybrid, semantic) and the search itself. Each mode runs as a fresh process (`vault` console
script), `--repeat` times; the in-process figures come from one process that loaded the model once.
The default mode (hybrid with `search.hybrid_wait`) is timed apart from an explicit `--mode hybrid`.
Every figure comes from this one run; the baseline is `vault --help` (start-up and CLI imports only).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAULT = Path(sys.executable).with_name("vault")
QUERIES = ["did you run the test suite", "money amounts come out one penny wrong", "shorter answers"]
# (label, extra arguments): the default is what a person gets without choosing a mode.
MODES = [("keyword", ["--mode", "keyword"]), ("default (hybrid, bounded wait)", []),
         ("hybrid (waits for the model)", ["--mode", "hybrid"]), ("semantic", ["--mode", "semantic"])]


def wall(argv: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, env=env)
    return time.perf_counter() - t, res


def build_vault(db: Path, env: dict) -> float:
    took, res = wall([str(VAULT), "--db", str(db), "ingest", str(ROOT / "examples" / "claude-code"), "--json"], env)
    if res.returncode != 0:
        sys.exit(f"ingest failed: {res.stderr.strip()}")
    return took


def in_process(db: Path) -> dict:
    from vault.index import embeddings
    from vault.index.search import search
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        name = embeddings.active_model(con)[1]
        t = time.perf_counter()
        embeddings.load_model(name)
        load_s = time.perf_counter() - t
        out = {"model_load_s": round(load_s, 2)}
        for mode in ("keyword", "hybrid", "semantic"):
            times = []
            for q in QUERIES * 3:
                t = time.perf_counter()
                search(con, q, mode=mode, limit=20)
                times.append(time.perf_counter() - t)
            out[f"{mode}_ms"] = round(1000 * statistics.median(times), 1)
        return out
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, help="an embedded vault (default: examples/ in a temporary vault)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per mode")
    args = ap.parse_args()
    if not VAULT.exists():
        sys.exit(f"no `vault` console script beside {sys.executable}: pip install -e .")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    tmp = None
    figures: dict = {"repeat": args.repeat}
    db = args.db
    if db is None:
        tmp = tempfile.TemporaryDirectory(prefix="search-cli-bench-")
        db = Path(tmp.name) / "vault.duckdb"
        figures["ingest_with_embedding_s"] = round(build_vault(db, env), 2)
    base = [wall([str(VAULT), "--help"], env)[0] for _ in range(args.repeat)]
    figures["baseline_vault_help_s"] = round(statistics.median(base), 2)
    print(f"vault --help (start-up baseline): {figures['baseline_vault_help_s']:.2f} s")
    for label, extra in MODES:
        times, notes = [], set()
        for i in range(args.repeat):
            took, res = wall([str(VAULT), "--db", str(db), "search", QUERIES[i % len(QUERIES)], "-n", "5", *extra],
                             env)
            if res.returncode != 0:
                sys.exit(f"vault search {' '.join(extra)} failed: {res.stderr.strip()}")
            times.append(took)
            if "keyword results only" in res.stderr:
                notes.add("fell back to keyword")
        med = statistics.median(times)
        key = label.split(" ")[0]
        figures[f"cli_{key}_s"] = round(med, 2)
        if notes:
            figures[f"cli_{key}_note"] = ", ".join(sorted(notes))
        print(f"vault search, {label}: median {med:.2f} s over {args.repeat} cold processes "
              f"({med / figures['baseline_vault_help_s']:.1f}x vault --help)" + (f" [{', '.join(notes)}]" if notes else ""))
    ip = in_process(db)
    figures["in_process"] = ip
    print(f"in one process: model load {ip['model_load_s']:.2f} s once, then per search (median): "
          f"keyword {ip['keyword_ms']} ms, hybrid {ip['hybrid_ms']} ms, semantic {ip['semantic_ms']} ms")
    if tmp:
        tmp.cleanup()
    print(json.dumps({"search_cli": figures}))


if __name__ == "__main__":
    main()
