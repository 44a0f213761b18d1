"""Search benchmark: keyword vs `rg -i`, semantic and hybrid latency, embedding throughput, vault size.

    python bench/search_bench.py --archive bench/data/archive --db bench/data/search-1g.duckdb
    python bench/search_bench.py --scale small          # the shared corpora, in a temporary vault
    python bench/search_bench.py ... --keyword-only --compare /tmp/main-src   # and another tree's, in the same run

The vault must already hold the archive (`vault ingest ARCHIVE --no-embed`); missing indexes
and embeddings are built here and timed. Every figure comes from this one run.
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# What a person types into a search box over coding sessions: words, names, a few phrases.
QUERIES = [
    "commit", "pre-commit hooks", "test", "webinspector", "docker", "migration", "error", "README",
    "typescript", "sqlite", "tmux", "refactor", "mypy", "workflow", "performance", "embedding",
    "session", "install", "database schema", "git push", "coverage", "subagent", "lint", "mobile",
]


def median_ms(times: list[float]) -> float:
    return round(1000 * statistics.median(times), 2)


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t, out


def rg_command() -> list[str]:
    if shutil.which("rg"):
        return ["rg", "-i", "-F", "--no-messages"]
    return ["grep", "-r", "-i", "-F"]  # fallback, reported as such


def run_grep(cmd: list[str], query: str, archive: Path) -> tuple[float, int, float]:
    """Wall time, matching lines and CPU seconds (user + system, all its threads); output goes to a pipe
    (rg short-cuts when it sees /dev/null)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run([*cmd, query, str(archive)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return dt, res.stdout.count(b"\n"), cpu


def dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def vault_size(db: Path) -> int:
    wal = Path(str(db) + ".wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def bench_keyword(con, archive: Path, queries: list[str], out: dict, rounds: int = 3) -> None:
    """Each query `rounds` times, alternating vault and rg; per query the median, then the median over
    queries. CPU time beside wall time: the machine is shared, and rg's threads wait for cores."""
    from vault.index.search import keyword_search

    cmd = rg_command()
    run_grep(cmd, "warm the page cache", archive)
    keyword_search(con, "warm up")
    ours, theirs, ours_cpu, theirs_cpu = ({q: [] for q in queries} for _ in range(4))
    hits, lines = {}, {}
    for _ in range(rounds):
        for q in queries:
            query = f'"{q}"' if " " in q else q  # phrases as phrases, as rg searches them
            cpu = time.process_time()  # this process's CPU, DuckDB's threads included
            dt, h = timed(keyword_search, con, query, 20)
            ours_cpu[q].append(time.process_time() - cpu)
            ours[q].append(dt)
            hits[q] = len(h)
            dt, lines[q], cpu = run_grep(cmd, q, archive)
            theirs[q].append(dt)
            theirs_cpu[q].append(cpu)
    med = {name: statistics.median(statistics.median(v) for v in d.values())
           for name, d in (("ours", ours), ("theirs", theirs), ("ours_cpu", ours_cpu), ("theirs_cpu", theirs_cpu))}
    out["keyword"] = {
        "queries": len(queries), "rounds": rounds, "tool": " ".join(cmd),
        "vault_median_ms": round(1000 * med["ours"], 2), "grep_median_ms": round(1000 * med["theirs"], 2),
        "speedup": round(med["theirs"] / med["ours"], 1),
        "vault_cpu_median_ms": round(1000 * med["ours_cpu"], 2), "grep_cpu_median_ms": round(1000 * med["theirs_cpu"], 2),
        "cpu_ratio": round(med["theirs_cpu"] / med["ours_cpu"], 1),
        "vault_hits_median": statistics.median(hits.values()), "grep_lines_median": statistics.median(lines.values()),
        "per_query_ms": {q: [median_ms(ours[q]), median_ms(theirs[q])] for q in queries},
        "load_average": round(os.getloadavg()[0], 1),
    }


# Run in a child process per tree: the in-process keyword search of the vault package at argv[1], per query the
# median (wall, CPU, rg's wall) of `rounds` runs. With an rg command (argv[5]), rg searches the archive for the query
# before each search, as in `bench_keyword` (rg takes both cores and the caches: the main figure's conditions).
COMPARE = """
import json, statistics, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from vault.store import open_vault
from vault.index.search import keyword_search
queries, rounds, rg = json.loads(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
con = open_vault(sys.argv[2], read_only=True)
keyword_search(con, "warm up")
out = {q: [] for q in queries}
for _ in range(rounds):
    for q in queries:
        g = time.perf_counter()
        if rg:
            subprocess.run([*rg[:-1], q, rg[-1]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        w, c = time.perf_counter(), time.process_time()
        keyword_search(con, f'"{q}"' if " " in q else q, 20)
        out[q].append((time.perf_counter() - w, time.process_time() - c, w - g))
print(json.dumps({q: [statistics.median(x[i] for x in v) for i in range(3)] for q, v in out.items()}))
"""


def compare_keyword(db: Path, src: Path, queries: list[str], rounds: int, out: dict, processes: int = 4,
                    archive: Path | None = None, src_db: Path | None = None) -> None:
    """This tree's in-process keyword search against `src`'s (another checkout), on the same vault: `processes`
    child processes each, alternated, each running every query `rounds` times. Without `archive`, no rg beside them
    (which takes both cores): the ratio of the two trees is the figure. With it, rg searches the archive before each
    search, as for the main figure, and each tree's speedup over the rg runs of its own children is reported too.
    Per query the median over processes, then over queries. `src_db`: the vault `src` searches, when it cannot
    open `db` (a copy of the same vault in the layout `src` reads: an older tree refuses a migrated vault)."""
    rg = [*rg_command(), str(archive)] if archive else []
    got: dict[str, list[dict]] = {"this": [], "compare": []}
    for _ in range(processes):
        for name, tree, vault in (("this", ROOT, db), ("compare", src, src_db or db)):
            res = subprocess.run([sys.executable, "-c", COMPARE, str(tree), str(vault), json.dumps(queries), str(rounds),
                                  json.dumps(rg)], capture_output=True, text=True, check=True, cwd=tree)
            got[name].append(json.loads(res.stdout))

    def med(name: str, i: int) -> float:
        return round(1000 * statistics.median(statistics.median(p[q][i] for p in got[name]) for q in queries), 2)

    this, other = (med("this", 0), med("this", 1)), (med("compare", 0), med("compare", 1))
    out["keyword_compare"] = {"src": str(src), "src_db": str(src_db or db), "processes": processes, "rounds": rounds, "rg_beside": bool(rg),
                              "this_ms": {"wall": this[0], "cpu": this[1]}, "compare_ms": {"wall": other[0], "cpu": other[1]},
                              "wall_ratio": round(this[0] / other[0], 2), "cpu_ratio": round(this[1] / other[1], 2),
                              "load_average": round(os.getloadavg()[0], 1)}
    if rg:
        rgs = {name: med(name, 2) for name in got}
        out["keyword_compare"].update(
            rg_ms=rgs, this_speedup=round(rgs["this"] / this[0], 1), compare_speedup=round(rgs["compare"] / other[0], 1))


# Run in a child process per tree: the result lists (every field of every hit) of the package at argv[1] for the cases
# in argv[3] ([query, mode, limit, filter name]), on the vault argv[2].
RESULTS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from vault.store import open_vault
from vault.index.search import SearchFilters, search
filters = {"none": SearchFilters(), "human": SearchFilters(human_only=True),
           "tools": SearchFilters(kinds=("tool_call", "tool_result")), "typed": SearchFilters(kinds=("human_prompt", "assistant_text"))}
con = open_vault(sys.argv[2], read_only=True)
print(json.dumps([[list(h) for h in search(con, q, mode=m, limit=n, filters=filters[f])] for q, m, n, f in json.loads(sys.argv[3])]))
"""
PAIRS = ["git commit", "docker error", "test coverage", "install package", "database migration", "session hook",
         "lint error fix", "readme install"]


def result_cases(queries: list[str]) -> list[list]:
    """What `compare_results` runs: each query (phrases quoted) and some pairs, at limits 1-100, with and without
    filters, keyword and hybrid (which, without vectors, is the keyword ranking at half the terms, taken 3x deeper)."""
    qs = [f'"{q}"' if " " in q else q for q in queries] + PAIRS
    cases = [[q, "keyword", n, "none"] for q in qs for n in (1, 5, 20, 60, 100)]
    cases += [[q, "keyword", 20, f] for q in qs for f in ("human", "tools", "typed")]
    return cases + [[q, "hybrid", 20, "none"] for q in qs]


def compare_results(db: Path, src: Path, queries: list[str], out: dict, src_db: Path | None = None) -> None:
    """The result lists of this tree and of `src` (each hit: message, session, role, kind, score, snippet, spans,
    ranks...) for `result_cases`: how many are identical."""
    cases = result_cases(queries)
    got = {}
    for name, tree, vault in (("this", ROOT, db), ("compare", src, src_db or db)):
        res = subprocess.run([sys.executable, "-c", RESULTS, str(tree), str(vault), json.dumps(cases)],
                             capture_output=True, text=True, check=True, cwd=tree)
        got[name] = json.loads(res.stdout)
    same = sum(a == b for a, b in zip(got["this"], got["compare"], strict=True))
    out["result_compare"] = {"lists": len(cases), "identical": same, "hits": sum(map(len, got["this"])),
                             "differ": [cases[i] for i, (a, b) in enumerate(zip(got["this"], got["compare"])) if a != b][:10]}


def keyword_index_size(con, out: dict) -> None:
    """What the keyword index costs: its tables' bytes, its documents by tier, and tool output deduplication."""
    from vault.index import fts
    from vault.storage import table_sizes

    tables = {k: v for k, v in table_sizes(con)["tables"].items() if "fts" in k}
    tiers = dict(con.execute(f"SELECT tier, count(*) FROM {fts.SCHEMA}.docs GROUP BY tier ORDER BY tier").fetchall())
    names = {fts.TEXT_TIER: "text", fts.TOOL_CALL_TIER: "tool_calls", fts.TOOL_ERROR_TIER: "tool_errors",
             fts.TOOL_OUTPUT_TIER: "tool_outputs"}
    results, distinct = con.execute("SELECT count(*), count(DISTINCT doc) FROM fts_results").fetchone()
    out["keyword_index"] = {
        "mb": round(sum(v["bytes"] for v in tables.values()) / 2**20, 1),
        "tables_mb": {k: round(v["bytes"] / 2**20, 2) for k, v in tables.items() if v["bytes"]},
        "postings": con.execute(f"SELECT count(*) FROM {fts.SCHEMA}.postings").fetchone()[0],
        "documents": {names[t]: n for t, n in tiers.items()},
        "tool_results": results, "tool_result_documents": distinct,
    }


def bench_embedding(con, sample: int, out: dict) -> None:
    """Our pipeline vs a bare `SentenceTransformer.encode` on the same sample of messages.

    The pipeline runs under another model name (the same weights, by path), restricted to the
    sample, so the vault's own vectors are not touched; its rows are deleted afterwards.
    """
    from vault.index import embeddings, vectors
    from vault.index.settings import DEFAULT_MODEL, indexed_kinds, model_location, searchable_sql

    alias = model_location(DEFAULT_MODEL)
    ids_texts = con.execute(
        f"SELECT m.msg_id, m.text FROM messages m WHERE {searchable_sql(indexed_kinds(con))} "
        "ORDER BY hash(m.msg_id) LIMIT ?", [sample]
    ).fetchall()
    chunks = [c for _, t in ids_texts for c in embeddings.chunk_text(t)]
    distinct = list(dict.fromkeys(chunks))
    model = embeddings.load_model(alias)
    embeddings.encode(model, distinct[:64])  # warm up
    bare1, _ = timed(embeddings.encode, model, distinct)
    rep = embeddings.embed_pending(con, alias, only=[i for i, _ in ids_texts])
    bare2, _ = timed(embeddings.encode, model, distinct)
    mid = embeddings.model_id(con, alias)
    for table in vectors.TABLES:  # (vectors: a view since m011; vector_store holds them)
        con.execute(f"DELETE FROM {table} WHERE model_id = ?", [mid])
    bare = (bare1 + bare2) / 2
    bare_rate = len(distinct) / bare
    ours_rate = rep.embedded / rep.seconds if rep.seconds else 0.0
    out["embedding"] = {
        "sample_messages": len(ids_texts), "chunk_texts": len(chunks), "distinct_texts": len(distinct),
        "vault_embedded": rep.embedded, "vault_seconds": rep.seconds,
        "vault_texts_per_s": round(ours_rate, 1), "bare_texts_per_s": round(bare_rate, 1),
        "per_text_ratio": round(ours_rate / bare_rate, 3),
        "bare_seconds_for_all_chunk_texts_est": round(len(chunks) / bare_rate, 1),
        "texts_saved_by_dedupe": len(chunks) - rep.embedded,
    }


def ensure_embedded(con, out: dict) -> None:
    from vault.index import embeddings

    pending = embeddings.pending_count(con)
    if pending:
        rep = embeddings.embed_pending(con)
        out["full_embed"] = rep.as_dict()
    out["vectors"] = con.execute("SELECT count(*) FROM vectors").fetchone()[0]
    out["chunks"] = con.execute("SELECT count(*) FROM chunks").fetchone()[0]


def bench_semantic(con, queries: list[str], out: dict) -> None:
    from vault.index.search import hybrid_search, semantic_search

    load, _ = timed(semantic_search, con, "load the model and the vectors")
    out["model_and_vectors_load_s"] = round(load, 2)
    for name, fn in (("semantic", semantic_search), ("hybrid", hybrid_search)):
        times = [timed(fn, con, q, 20)[0] for q in queries]
        out[name] = {"median_ms": median_ms(times), "p90_ms": round(1000 * sorted(times)[int(0.9 * len(times))], 2)}


def bench_brute_force_scale(out: dict, n: int = 200_000, dim: int = 384) -> None:
    """Brute force beyond this archive: one query against n random unit vectors, in memory."""
    import numpy as np

    rng = np.random.default_rng(0)
    mat = rng.standard_normal((n, dim), dtype=np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    q = mat[0]
    times = []
    for _ in range(20):
        t = time.perf_counter()
        scores = mat @ q
        np.argpartition(-scores, 200)[:200]
        times.append(time.perf_counter() - t)
    out["brute_force"] = {"vectors": n, "dim": dim, "median_ms": median_ms(times)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, help="the raw JSONL archive the vault was ingested from")
    ap.add_argument("--db", type=Path, help="the vault holding that archive")
    ap.add_argument("--scale", choices=["small"], help="small: the shared corpora in a temporary vault")
    ap.add_argument("--sample", type=int, default=2000, help="messages in the embedding-throughput sample")
    ap.add_argument("--json-out", type=Path, help="also write the figures here")
    ap.add_argument("--keyword-only", action="store_true",
                    help="keyword search and its index only (no embedding, semantic or hybrid figures)")
    ap.add_argument("--rounds", type=int, default=3, help="times each keyword query runs (median taken)")
    ap.add_argument("--compare", type=Path, metavar="DIR",
                    help="also time the in-process keyword search of another source tree (e.g. main) on the same vault, "
                         "alternated with this tree's, after the main figures")
    ap.add_argument("--compare-rg", action="store_true",
                    help="with --compare: rg searches the archive before each search of both trees, as for the main "
                         "figure (each tree's speedup over rg in the same run)")
    ap.add_argument("--compare-db", type=Path, metavar="VAULT",
                    help="with --compare: the vault the other tree searches (a copy of --db in the layout it reads), "
                         "when it cannot open --db")
    ap.add_argument("--compare-processes", type=int, default=4, help="with --compare: child processes per tree")
    ap.add_argument("--no-throughput", action="store_true",
                    help="skip the embedding-throughput comparison (the longest part); latencies are still measured")
    args = ap.parse_args(argv)

    from vault.index import fts
    from vault.store import open_vault

    tmp = None
    if args.scale == "small":
        from vault.ingest import ingest

        args.archive = args.archive or ROOT.parent / "shared" / "corpora" / "claude-code"
        tmp = Path(tempfile.mkdtemp(prefix="search-bench-"))
        args.db = tmp / "vault.duckdb"
        c = open_vault(args.db)
        ingest(c, [args.archive])
        c.close()
    if not args.archive or not args.db:
        ap.error("give --archive and --db, or --scale small")
    out: dict = {"archive": str(args.archive), "db": str(args.db)}
    con = open_vault(args.db)
    try:
        built = fts.ensure_index(con)
        out["fts_build"] = built or "up to date"
        out["messages"] = con.execute("SELECT count(*) FROM messages").fetchone()[0]
        out["indexed_messages"] = con.execute(f"SELECT count(*) FROM {fts.SCHEMA}.docs").fetchone()[0]
        keyword_index_size(con, out)
        bench_keyword(con, args.archive, QUERIES, out, args.rounds)
        if not args.keyword_only:
            if not args.no_throughput:
                bench_embedding(con, args.sample, out)
            ensure_embedded(con, out)
            bench_semantic(con, QUERIES, out)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if args.compare:
        compare_results(args.db, args.compare, QUERIES, out, args.compare_db)
        compare_keyword(args.db, args.compare, QUERIES, args.rounds, out, args.compare_processes,
                        args.archive if args.compare_rg else None, args.compare_db)
    if not args.keyword_only:
        bench_brute_force_scale(out)
    archive_bytes, db_bytes = dir_size(args.archive), vault_size(args.db)
    out["size"] = {"archive_mb": round(archive_bytes / 2**20, 1), "vault_mb": round(db_bytes / 2**20, 1),
                   "ratio": round(db_bytes / archive_bytes, 2)}
    report(out)
    if args.json_out:
        args.json_out.write_text(json.dumps(out, indent=2))
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


def report(o: dict) -> None:
    k, e, s, ki = o["keyword"], o.get("embedding"), o["size"], o["keyword_index"]
    print(json.dumps(o, indent=2))
    print(f"\nkeyword: median {k['vault_median_ms']} ms vs {k['tool']} {k['grep_median_ms']} ms over "
          f"{k['queries']} queries x {k['rounds']} rounds -> {k['speedup']}x (target >= 25x); CPU {k['vault_cpu_median_ms']} "
          f"vs {k['grep_cpu_median_ms']} ms -> {k['cpu_ratio']}x; load average {k['load_average']}")
    if "keyword_compare" in o:
        c = o["keyword_compare"]
        print(f"keyword, this tree vs {c['src']} (in-process, {c['processes']} processes each, alternated"
              f"{', rg before each search' if c.get('rg_beside') else ', no rg beside'}): "
              f"median {c['this_ms']['wall']} vs {c['compare_ms']['wall']} ms wall ({c['wall_ratio']}x), "
              f"{c['this_ms']['cpu']} vs {c['compare_ms']['cpu']} ms CPU ({c['cpu_ratio']}x); load {c['load_average']}")
        r = o["result_compare"]
        print(f"  result lists: {r['identical']} of {r['lists']} identical ({r['hits']:,} hits)"
              + (f"; differ: {r['differ']}" if r["differ"] else ""))
        if c.get("rg_beside"):
            print(f"  with rg before each search (as above): rg {c['rg_ms']['this']} / {c['rg_ms']['compare']} ms in each "
                  f"tree's children -> this tree {c['this_speedup']}x, {c['src']} {c['compare_speedup']}x")
    if "semantic" in o:
        print(f"semantic: median {o['semantic']['median_ms']} ms, hybrid: median {o['hybrid']['median_ms']} ms "
              "excluding model load (targets < 100 ms, hybrid < 50 ms)")
    if e:
        print(f"embedding: {e['vault_texts_per_s']} texts/s in the vault pipeline vs {e['bare_texts_per_s']} bare "
              f"-> {e['per_text_ratio']}x per text (target >= 0.9); {e['vault_embedded']} texts embedded "
              f"instead of {e['chunk_texts']} ({e['texts_saved_by_dedupe']} saved by dedupe)")
    print(f"keyword index: {ki['mb']} MB ({ki['postings']:,} postings; documents {ki['documents']}; "
          f"{ki['tool_results']:,} tool results as {ki['tool_result_documents']:,} distinct documents)")
    print(f"size: vault {s['vault_mb']} MB for an archive of {s['archive_mb']} MB ({s['ratio']}x)")


if __name__ == "__main__":
    main()
