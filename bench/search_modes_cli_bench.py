"""`vault search` per mode as a command from a cold shell: the light query encoder vs sentence-transformers.

    python bench/search_modes_cli_bench.py                  # examples/ in a temporary vault, rg over examples/
    python bench/search_modes_cli_bench.py --db /work/bench-data/vault-1g-embed.duckdb \\
        --archive /work/bench-data/archive --repeat 5
    python bench/search_modes_cli_bench.py ... --doc-side 256   # also: encode throughput, vault embed's side
    python bench/search_modes_cli_bench.py ... --compare /tmp/main-src --no-heavy  # a baseline tree; no torch

What a person waits for when they type `vault search ...`: interpreter start, imports, model load and the
search. Each (mode, encoder) runs as a fresh process `--repeat` times over the queries; the peer, measured in
the same run on the same queries, is `rg -i -F QUERY ARCHIVE` (also a fresh process; output to a pipe).
Printed: median wall and median CPU (user + system, steadier than wall on a shared machine) per command,
and each one's ratio to rg's.

"encoder": the default, vault.index.encoder (numpy, no torch). "sentence-transformers": the same command
with the light encoder switched off in that process (what every search did before), i.e. torch loaded.
Then, in this process: recall@10 of semantic search with the light encoder against sentence-transformers
over the vault's own vectors (the bench queries plus prompts and answers sampled from the vault), and the
cosine between the two query vectors. `--compare DIR` adds each mode run from another source tree (a
baseline checkout, e.g. `git archive main | tar -x -C DIR`) in the same rounds; `--no-heavy` leaves out
sentence-transformers (its rows and the recall, which need torch: ~7 s of CPU a process). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import VAULT, src_env  # noqa: E402  (bench/ is first on the path of a bench run as a script)

ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "NO_COLOR": "1"}
QUERIES = ["did you run the test suite", "money amounts come out one penny wrong", "shorter answers",
           "why does the build fail", "database migration"]
MODES = [("keyword", ["--mode", "keyword"]), ("semantic", ["--mode", "semantic"]),
         ("hybrid", ["--mode", "hybrid"]), ("default", [])]  # default: hybrid with search.hybrid_wait
LIGHT = VAULT
# The same command with the light encoder disabled: the query goes through sentence-transformers.
HEAVY = [sys.executable, "-c", "import vault.index.encoder as e; e.load = lambda folder: None; "
         "e.why_not = lambda folder: 'switched off by the bench'; from vault.cli import main; main()"]
RECALL_SAMPLE = 60  # texts of the vault (prompts, answers; their first 300 characters) as extra queries


def run(cmd: list[str], src: Path = ROOT) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall, CPU user + system) of one fresh process, a `vault` from the source tree `src`; output to a pipe (rg
    short-cuts on /dev/null)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, env=src_env(src, **ENV))
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode not in (0, 1):  # rg exits 1 when nothing matched
        sys.exit(f"{' '.join(cmd[:4])}... exited {res.returncode}: {res.stderr.decode(errors='replace')[-500:]}")
    return dt, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, res


def rg_command() -> list[str]:
    return ["rg", "-i", "-F", "--no-messages"] if shutil.which("rg") else ["grep", "-r", "-i", "-F"]


def cold_commands(db: Path, archive: Path, repeat: int, compare: Path | None = None, heavy: bool = True) -> dict:
    """Median wall/CPU per command; rows interleaved round by round, so load drifts hit every row alike."""
    rows: dict[str, list[tuple[float, float]]] = {}
    notes: dict[str, set] = {}
    variants = [("encoder", LIGHT, ROOT)] + ([("sentence-transformers", HEAVY, ROOT)] if heavy else [])
    if compare is not None:
        variants.append(("compare", LIGHT, compare))
    for r in range(repeat):
        for q in QUERIES:
            rows.setdefault("rg", []).append(run([*rg_command(), q, str(archive)])[:2])
            for mode, extra in MODES:
                for enc, program, src in variants:
                    if mode == "keyword" and enc == "sentence-transformers":
                        continue  # no model on that path
                    key = f"{mode} / {enc}" if mode != "keyword" or enc == "compare" else "keyword"
                    if enc == "sentence-transformers" and q != QUERIES[r % len(QUERIES)]:
                        continue  # sentence-transformers costs ~7 s a process: one query per round
                    took, cpu, res = run([*program, "--db", str(db), "search", q, "-n", "10", "--json", *extra], src)
                    rows.setdefault(key, []).append((took, cpu))
                    if b"keyword results only" in res.stderr:
                        notes.setdefault(key, set()).add("fell back to keyword")
    out = {}
    rg_wall = statistics.median(w for w, _ in rows["rg"])
    rg_cpu = statistics.median(c for _, c in rows["rg"])
    for key, xs in rows.items():
        w, c = statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs)
        out[key] = {"wall_s": round(w, 3), "cpu_s": round(c, 3), "runs": len(xs),
                    "wall_x_rg": round(w / rg_wall, 1), "cpu_x_rg": round(c / rg_cpu, 1)}
        if key in notes:
            out[key]["note"] = ", ".join(sorted(notes[key]))
    return out


def recall_at_10(db: Path) -> dict:
    """Semantic top 10 with the light encoder vs with sentence-transformers, over the vault's vectors."""
    import numpy as np

    from vault.index import embeddings
    from vault.index.search import semantic_search
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        name = embeddings.active_model(con)[1]
        prompts = [t[:300] for (t,) in con.execute(
            "SELECT DISTINCT text FROM messages WHERE kind IN ('human_prompt', 'assistant_text') "
            "AND length(text) BETWEEN 15 AND 2000 ORDER BY hash(text) LIMIT ?", [RECALL_SAMPLE]).fetchall()]
        queries = QUERIES + prompts
        t = time.perf_counter()
        light = embeddings.load_query_model(name)
        light_load = time.perf_counter() - t
        t = time.perf_counter()
        heavy = embeddings.load_model(name)
        heavy_load = time.perf_counter() - t
        if not embeddings.is_light(light):
            sys.exit(f"the light encoder does not run {name}: nothing to compare")
        tops, vecs, ms = {}, {}, {}
        for label, model in (("encoder", light), ("sentence-transformers", heavy)):
            embeddings.load_query_model = lambda n, m=model: m  # this process only
            tops[label], took = [], []
            for q in queries:
                t = time.perf_counter()
                tops[label].append([h.msg_id for h in semantic_search(con, q, limit=10)])
                took.append(time.perf_counter() - t)
            vecs[label] = np.stack([embeddings.encode_query(model, q) for q in queries])
            ms[label] = round(1000 * statistics.median(took), 1)
    finally:
        con.close()
    per_query = [len(set(a) & set(b)) / len(b) for a, b in zip(tops["encoder"], tops["sentence-transformers"]) if b]
    cos = (vecs["encoder"] * vecs["sentence-transformers"]).sum(1)
    return {"queries": len(per_query), "recall_at_10": round(float(np.mean(per_query)), 4),
            "worst_query_recall": round(min(per_query), 2), "query_cosine_min": round(float(cos.min()), 6),
            "model_load_s": {"encoder": round(light_load, 2), "sentence-transformers": round(heavy_load, 2)},
            "semantic_search_ms_in_process": ms}


def doc_side(db: Path, n: int) -> dict:
    """Encoding throughput on the vault's own chunk texts (what `vault embed` does), light vs torch."""
    from vault.index import embeddings
    from vault.index.embeddings import chunk_text
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        texts = [c for (t,) in con.execute("SELECT text FROM messages WHERE kind IN ('human_prompt', "
                                           "'assistant_text') ORDER BY hash(msg_id) LIMIT ?", [n]).fetchall()
                 for c in chunk_text(t)][:n]
        name = embeddings.active_model(con)[1]
    finally:
        con.close()
    out = {"texts": len(texts)}
    for label, model in (("encoder", embeddings.load_query_model(name)), ("sentence-transformers",
                                                                         embeddings.load_model(name))):
        t, c = time.perf_counter(), time.process_time()
        embeddings.encode(model, texts)
        out[label] = {"wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(time.process_time() - c, 2),
                      "texts_per_s": round(len(texts) / (time.perf_counter() - t), 1)}
    out["encoder_x_throughput"] = round(out["sentence-transformers"]["wall_s"] / out["encoder"]["wall_s"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, help="an embedded vault (default: examples/ in a temporary vault)")
    ap.add_argument("--archive", type=Path, help="what rg searches (default: examples/claude-code)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds over the queries")
    ap.add_argument("--doc-side", type=int, default=0, metavar="N", help="also time encoding N chunk texts")
    ap.add_argument("--compare", type=Path, metavar="DIR", help="also run each mode from this source tree")
    ap.add_argument("--no-heavy", action="store_true", help="leave out sentence-transformers (rows and recall)")
    args = ap.parse_args()
    tmp = None
    db, archive = args.db, args.archive or ROOT / "examples" / "claude-code"
    if db is None:
        tmp = tempfile.TemporaryDirectory(prefix="search-modes-bench-")
        db = Path(tmp.name) / "vault.duckdb"
        run([*LIGHT, "--db", str(db), "ingest", str(archive), "--json"])
    figures = {"db": str(db), "archive": str(archive), "repeat": args.repeat, "rg": " ".join(rg_command()),
               "load_avg_before": os.getloadavg()[0]}
    cmds = cold_commands(db, archive, args.repeat, args.compare, heavy=not args.no_heavy)
    figures["commands"] = cmds
    print(f"{'command (cold process)':40} {'wall s':>8} {'cpu s':>7} {'wall/rg':>8} {'cpu/rg':>7} {'runs':>5}")
    for key, f in cmds.items():
        print(f"{key:40} {f['wall_s']:8.3f} {f['cpu_s']:7.3f} {f['wall_x_rg']:8.1f} {f['cpu_x_rg']:7.1f} "
              f"{f['runs']:5}" + (f"  [{f['note']}]" if "note" in f else ""))
    for mode in ("semantic", "hybrid", "default"):
        light = cmds[f"{mode} / encoder"]
        print(f"{mode}: target < 1.5 s wall: {'met' if light['wall_s'] < 1.5 else 'NOT met'} ({light['wall_s']:.2f} s, "
              f"CPU {light['cpu_s']:.2f} s)")
        for other in ("sentence-transformers", "compare"):
            if f"{mode} / {other}" in cmds:
                o = cmds[f"{mode} / {other}"]
                print(f"  against {other}: the encoder's command takes {light['wall_s'] / o['wall_s']:.2f}x its wall, "
                      f"{light['cpu_s'] / o['cpu_s']:.2f}x its CPU")
    if not args.no_heavy:
        rec = recall_at_10(db)
        figures["recall"] = rec
        print(f"recall@10 of semantic search, encoder vs sentence-transformers: {rec['recall_at_10']:.3f} over "
              f"{rec['queries']} queries (worst query {rec['worst_query_recall']:.1f}); query vectors' cosine >= "
              f"{rec['query_cosine_min']:.6f}; model load in process: {rec['model_load_s']}")
    if args.doc_side:
        ds = doc_side(db, args.doc_side)
        figures["doc_side"] = ds
        print(f"encoding {ds['texts']} chunk texts (vault embed's side): encoder {ds['encoder']}, "
              f"sentence-transformers {ds['sentence-transformers']}: {ds['encoder_x_throughput']}x its throughput")
    figures["load_avg_after"] = os.getloadavg()[0]
    if tmp:
        tmp.cleanup()
    print(json.dumps({"search_modes_cli": figures}))


if __name__ == "__main__":
    main()
