"""Vectors bench: `vault embed` against bare `encode`, int8 recall@10 against float32, embeddings' size.

    python bench/vectors_bench.py --plain PLAIN --float32 F32 [--sample 1500]

PLAIN is a vault ingested with `--no-embed`; F32 the same vault embedded by the version before m011
(float32 vectors). Both are copied, never written. The corpora vault of the report:
`vault --db PLAIN ingest --no-embed ../shared/corpora/{claude-code,conversations,wild}`, then a copy
embedded by main before m011 (`vault --db F32 embed`). One run measures:

1. throughput, on a copy of PLAIN: bare `SentenceTransformer.encode` of the distinct chunk texts of
   `--sample` messages (batch 64, longest first as the vault sends them), then `embed_pending` on
   the same messages (the whole pipeline: the pending query, chunking, hashing, dedupe, encoding,
   int8 writes, chunk rows, checkpoint), then bare again. The model is loaded once before all
   three: its load is in none. Wall and CPU seconds of each; the ratio is the pipeline's texts per
   second over bare's (the mean of the two bare runs).
2. recall@10: F32's float32 vectors against the same vectors as m011 stores them, ranked for the
   same queries: the search bench's phrases plus real human turns of the vault (not `wild/`: its
   turns are held back), per distinct vector and per message (a message scores as its best chunk).
3. size: F32 migrated by m011 (a copy, opened as `vault` would); the embeddings' tables (vectors,
   chunks, models) before and after, as `vault stats` estimates them, and how much each compacted
   file is larger than PLAIN compacted; both against the archive's bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if os.environ.get("VAULT_BENCH_CODE"):  # a latency child timing another version of vault (--baseline-code)
    sys.path.insert(0, os.environ["VAULT_BENCH_CODE"])
import vault  # noqa: E402
import vault.index.search  # noqa: E402,F401  (before search_bench, which puts this tree first on the path)

sys.path.insert(0, str(ROOT / "bench"))
from search_bench import QUERIES  # noqa: E402

HUMAN_QUERIES = 300
K = 10


def clock(fn, *args, **kw):
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return round(time.perf_counter() - t, 3), round(time.process_time() - c, 3), out


def pending_texts(con, sample: int) -> tuple[list[str], list[str]]:
    """(msg ids, distinct chunk texts) that `embed_pending` will embed, in its own order (longest first)."""
    from vault.index import embeddings
    from vault.index.settings import indexed_kinds, searchable_sql

    rows = con.execute(f"SELECT m.msg_id, m.text FROM messages m WHERE {searchable_sql(indexed_kinds(con))} "
                       "ORDER BY hash(m.msg_id) LIMIT ?", [sample]).fetchall()
    texts = dict.fromkeys(c for _, t in rows for c in embeddings.chunk_text(t or ""))
    return [m for m, _ in rows], sorted(texts, key=len, reverse=True)


def throughput(con, sample: int, out: dict, repeat: int = 1) -> None:
    """Bare, vault, bare, ... (`repeat` vault runs, each on the vault emptied of its embeddings again):
    the ratio of medians, wall and CPU."""
    from vault.index import embeddings, vectors
    from vault.index.settings import DEFAULT_MODEL

    ids, texts = pending_texts(con, sample)
    model = embeddings.load_model(DEFAULT_MODEL)
    embeddings.encode(model, texts[-64:])  # warm up (short texts: cheap)
    w, c, bare_vecs = clock(embeddings.encode, model, texts, embeddings.BATCH_SIZE)
    bare = [(w, c)]
    vault, reps = [], []
    for i in range(repeat):
        if i:
            for table in vectors.TABLES:
                con.execute(f"DELETE FROM {table}")
            con.execute("DELETE FROM meta WHERE key IN ('embed_model', 'embedded_through')")
            con.execute("CHECKPOINT")
        w, c, rep = clock(embeddings.embed_pending, con, only=ids)
        vault.append((w, c))
        reps.append(rep)
        bare.append(clock(embeddings.encode, model, texts, embeddings.BATCH_SIZE)[:2])
    med = statistics.median
    bare_wall, vault_wall = med(w for w, _ in bare), med(w for w, _ in vault)
    out["throughput"] = {
        "messages": len(ids), "distinct_texts": len(texts), "vault_embedded": reps[0].embedded,
        "bare_wall_s": [w for w, _ in bare], "bare_cpu_s": [c for _, c in bare],
        "vault_wall_s": [w for w, _ in vault], "vault_cpu_s": [c for _, c in vault],
        "vault_encode_s": [r.encode_seconds for r in reps], "vault_load_s": [r.load_seconds for r in reps],
        "bare_texts_per_s": round(len(texts) / bare_wall, 1),
        "vault_texts_per_s": round(reps[0].embedded / vault_wall, 1),
        "ratio": round((reps[0].embedded / vault_wall) / (len(texts) / bare_wall), 3),
        "cpu_ratio": round(med(c for _, c in bare) / med(c for _, c in vault), 3),
        "padding": padding(model, texts, embeddings.BATCH_SIZE),
    }
    out["vectors_vs_bare"] = same_vectors(con, model, texts, bare_vecs)


def padding(model, texts: list[str], batch: int) -> dict:
    """Tokens the batches compute (each batch: its size x its longest text) when sorted as `encode` sorts (by
    characters) and as the vault sends them (`embeddings.by_tokens`), against the texts' own tokens."""
    from vault.index import embeddings

    lengths = dict(zip(texts, embeddings.token_lengths(model, texts), strict=True))

    def cost(order):
        return sum(len(order[b:b + batch]) * max(lengths[t] for t in order[b:b + batch])
                   for b in range(0, len(order), batch))

    ordered = [t for _, t in embeddings.by_tokens(model, [(t, t) for t in texts])]
    return {"tokens": sum(lengths.values()), "by_chars": cost(texts), "by_tokens": cost(ordered)}


def same_vectors(con, model, texts: list[str], bare_vecs) -> dict:
    """The vault's stored int8 vectors against bare `encode`'s float32 ones quantised as the vault stores them
    (what the previous code stored, batched by characters): how many are identical, the largest step, and
    recall@10 per message (best chunk) over the bench phrases and sampled human turns, ranked within the sample."""
    import numpy as np

    from vault.index import embeddings, vectors

    hashes = [embeddings.content_hash(t) for t in texts]
    stored = {h: (np.asarray(q, np.int8), s) for h, s, q in
              con.execute(f"SELECT content_hash, scale, q FROM {vectors.TABLE}").fetchall()}
    q_old, s_old = vectors.quantize(bare_vecs)
    q_new = np.stack([stored[h][0] for h in hashes])
    s_new = np.array([stored[h][1] for h in hashes], np.float32)
    steps = np.abs(q_new.astype(np.int16) - q_old.astype(np.int16))
    old, new = vectors.dequantize(q_old, s_old), vectors.dequantize(q_new, s_new)
    row = {h: i for i, h in enumerate(hashes)}
    chunk_rows = con.execute("SELECT msg_id, content_hash FROM chunks ORDER BY msg_id, chunk_no").fetchall()
    msgs = sorted({m for m, _ in chunk_rows})
    mpos = {m: i for i, m in enumerate(msgs)}
    cm = np.array([mpos[m] for m, _ in chunk_rows])
    cv = np.array([row[h] for _, h in chunk_rows])
    humans = [t for (t,) in con.execute(
        "SELECT text FROM messages WHERE kind = 'human_prompt' AND length(trim(text)) > 3 "
        "ORDER BY hash(msg_id) LIMIT ?", [HUMAN_QUERIES]).fetchall()]
    queries = embeddings.encode(model, QUERIES + humans)

    def top(vecs, qv):
        best = np.full(len(msgs), -np.inf, np.float32)
        np.maximum.at(best, cm, (vecs @ qv)[cv])
        return set(np.argsort(-best, kind="stable")[:K].tolist())

    rec = [len(top(old, qv) & top(new, qv)) / K for qv in queries]
    return {"vectors": len(texts), "identical": int((steps.max(axis=1) == 0).sum()),
            "max_step": int(steps.max()), "max_abs_diff_float32": round(float(np.abs(old - new).max()), 6),
            "messages": len(msgs), "queries": len(queries), "recall_at_10_messages": round(float(np.mean(rec)), 4),
            "worst_query": round(float(np.min(rec)), 2)}


def recall(f32db: Path, int8db: Path, out: dict) -> None:
    import duckdb
    import numpy as np

    from vault.index import embeddings, vectors
    from vault.index.settings import DEFAULT_MODEL

    con = duckdb.connect(str(f32db), read_only=True)
    rows = con.execute("SELECT content_hash, vector FROM vectors ORDER BY content_hash").fetchall()
    chunk_rows = con.execute("SELECT msg_id, content_hash FROM chunks ORDER BY msg_id, chunk_no").fetchall()
    humans = [t for (t,) in con.execute(
        """SELECT m.text FROM messages m JOIN files f USING (file_id)
           WHERE m.kind = 'human_prompt' AND f.path NOT LIKE '%/wild/%' AND length(trim(m.text)) > 3
           ORDER BY hash(m.msg_id) LIMIT ?""", [HUMAN_QUERIES]).fetchall()]
    con.close()
    hashes = [h for h, _ in rows]
    f32 = np.array([v for _, v in rows], np.float32)
    i8 = vectors.dequantize(*vectors.quantize(f32))
    # What m011 stored (in SQL) is what `quantize` makes of the same vectors (in numpy).
    con = duckdb.connect(str(int8db), read_only=True)
    stored = dict(con.execute(f"SELECT content_hash, list_transform(q, x -> x * scale) FROM {vectors.TABLE}").fetchall())
    con.close()
    drift = float(max(np.abs(np.asarray(stored[h], np.float32) - i8[j]).max() for j, h in enumerate(hashes)))
    row = {h: j for j, h in enumerate(hashes)}
    msgs = sorted({m for m, _ in chunk_rows})
    mpos = {m: i for i, m in enumerate(msgs)}
    cm = np.array([mpos[m] for m, _ in chunk_rows])
    cv = np.array([row[h] for _, h in chunk_rows])
    queries = embeddings.encode(embeddings.load_model(DEFAULT_MODEL), QUERIES + humans)

    def top(scores):
        return set(np.argsort(-scores, kind="stable")[:K].tolist())

    def per_message(vec_scores):
        best = np.full(len(msgs), -np.inf, np.float32)
        np.maximum.at(best, cm, vec_scores[cv])
        return best

    rv, rm = [], []
    for qv in queries:
        a, b = f32 @ qv, i8 @ qv
        rv.append(len(top(a) & top(b)) / K)
        rm.append(len(top(per_message(a)) & top(per_message(b))) / K)
    out["recall"] = {
        "queries": len(queries), "phrases": len(QUERIES), "human_turns": len(humans), "vectors": len(f32),
        "messages": len(msgs), "recall_at_10_vectors": round(float(np.mean(rv)), 4),
        "recall_at_10_messages": round(float(np.mean(rm)), 4),
        "worst_query_vectors": round(float(np.min(rv)), 2), "worst_query_messages": round(float(np.min(rm)), 2),
        "m011_vs_quantize_max_abs_diff": round(drift, 6),
    }


def emb_bytes(path: Path) -> int:
    import duckdb

    from vault.index import vectors
    from vault.storage import table_sizes

    con = duckdb.connect(str(path), read_only=True)
    try:
        t = table_sizes(con)["tables"]
    finally:
        con.close()
    return sum(t[n]["bytes"] for n in (*vectors.TABLES, "vectors") if n in t)


def compacted_bytes(path: Path) -> int:
    from vault.store import compact, connect

    compact(connect(path), path).close()
    return path.stat().st_size


def sizes(plain: Path, f32: Path, int8: Path, out: dict) -> None:
    import duckdb

    con = duckdb.connect(str(plain), read_only=True)
    archive = con.execute("SELECT coalesce(sum(size), 0) FROM files WHERE source <> 'unrecognised'").fetchone()[0]
    con.close()
    res = {"archive_bytes": int(archive), "float32_tables_bytes": emb_bytes(f32), "int8_tables_bytes": emb_bytes(int8)}
    files = {name: compacted_bytes(p) for name, p in (("none", plain), ("float32", f32), ("int8", int8))}
    for name in ("int8", "float32"):
        res[f"{name}_file_growth_bytes"] = files[name] - files["none"]
        res[f"{name}_tables_ratio"] = round(res[f"{name}_tables_bytes"] / archive, 4)
        res[f"{name}_file_ratio"] = round(res[f"{name}_file_growth_bytes"] / archive, 4)
    res["unembedded_file_bytes"] = files["none"]
    out["size"] = res


def latency(db: Path, rounds: int) -> dict:
    """Keyword, semantic and hybrid in-process, model and vectors loaded: each query in the three modes in
    turn (a busy moment hits all three), `rounds` times; wall and CPU per query; the query encoding alone."""
    from vault.index import embeddings
    from vault.index.search import SearchFilters, hybrid_search, keyword_search, semantic_search
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        hybrid_search(con, "load the model and the vectors")
        model = embeddings.load_model(embeddings.active_model(con)[1])
        fns = {"keyword": lambda q: keyword_search(con, q, 20), "semantic": lambda q: semantic_search(con, q, 20),
               "hybrid": lambda q: hybrid_search(con, q, 20), "encode": lambda q: embeddings.encode_query(model, q),
               "hybrid_human_only": lambda q: hybrid_search(con, q, 20, SearchFilters(human_only=True)),
               "semantic_human_only": lambda q: semantic_search(con, q, 20, SearchFilters(human_only=True))}
        wall: dict[str, list[float]] = {k: [] for k in fns}
        cpu: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(rounds):
            for q in QUERIES:
                for name, fn in fns.items():
                    w, c, _ = clock(fn, q)
                    wall[name].append(w)
                    cpu[name].append(c)
    finally:
        con.close()
    ms = lambda xs: round(1000 * statistics.median(xs), 2)  # noqa: E731
    return {k: {"median_ms": ms(wall[k]), "p90_ms": round(1000 * sorted(wall[k])[int(0.9 * len(wall[k]))], 2),
                "cpu_median_ms": ms(cpu[k])} for k in fns}


def latency_runs(args, out: dict) -> None:
    """Alternate child processes (this tree, then the baseline's code on its own vault), `--repeat` times."""
    import subprocess

    sides = [("now", None, args.latency_db)]
    if args.baseline_code:
        sides.append(("baseline", args.baseline_code, args.baseline_db or args.latency_db))
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in sides}
    for _ in range(args.repeat):
        for name, code, db in sides:
            env = dict(os.environ, **({"VAULT_BENCH_CODE": str(code)} if code else {}))
            res = subprocess.run([sys.executable, __file__, "--latency-child", str(db), "--rounds", str(args.rounds)],
                                 env=env, capture_output=True, text=True, check=True)
            runs[name].append(json.loads(res.stdout.strip().splitlines()[-1]))
    out["latency"] = {"db": str(args.latency_db), "queries": len(QUERIES), "rounds": args.rounds, "runs": runs,
                      "median_of_runs": {name: {mode: round(statistics.median(r[mode]["median_ms"] for r in rs), 2)
                                                for mode in rs[0] if mode != "code"} for name, rs in runs.items()},
                      "cpu_median_of_runs": {name: {mode: round(statistics.median(r[mode]["cpu_median_ms"] for r in rs), 2)
                                                    for mode in rs[0] if mode != "code"}
                                             for name, rs in runs.items()}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plain", type=Path, help="a vault ingested with --no-embed")
    ap.add_argument("--float32", type=Path, help="the same vault embedded before m011 (without: throughput only)")
    ap.add_argument("--sample", type=int, default=1500, help="messages embedded in the throughput comparison")
    ap.add_argument("--throughput-repeat", type=int, default=1, help="vault runs, each between two bare ones")
    ap.add_argument("--latency-db", type=Path, help="an embedded vault: time keyword, semantic and hybrid search")
    ap.add_argument("--baseline-code", type=Path, help="a checkout of another version, timed on --baseline-db")
    ap.add_argument("--baseline-db", type=Path, help="the vault for the baseline (default: --latency-db)")
    ap.add_argument("--repeat", type=int, default=2, help="latency: child processes per side, alternating")
    ap.add_argument("--rounds", type=int, default=2, help="latency: passes over the queries per child")
    ap.add_argument("--latency-child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)
    from vault.store import open_vault

    if args.latency_child:
        print(json.dumps(latency(args.latency_child, args.rounds) | {"code": str(Path(vault.__file__).parent)}))
        return
    if args.latency_db and not args.plain:
        from _common import open_bench_vault

        open_bench_vault(args.latency_db).close()  # a vault to migrate: one line, not a child's traceback
        out = {"load_average": [round(x, 1) for x in os.getloadavg()]}
        latency_runs(args, out)
        _done(out, args, report_latency)
        return
    if args.plain and not args.float32:  # the throughput part alone
        out = {"load_average": [round(x, 1) for x in os.getloadavg()]}
        with tempfile.TemporaryDirectory(prefix="vectors-bench-") as tmp:
            _throughput_on_copy(args, Path(tmp), out)
        _done(out, args, lambda o: report_throughput(o["throughput"], o.get("vectors_vs_bare")))
        return
    if not args.plain:
        ap.error("give --plain [--float32], or --latency-db")

    tmp = Path(tempfile.mkdtemp(prefix="vectors-bench-"))
    out: dict = {"load_average": [round(x, 1) for x in os.getloadavg()]}
    try:
        plain, f32, int8 = tmp / "plain.duckdb", tmp / "float32.duckdb", tmp / "int8.duckdb"
        shutil.copy(args.plain, plain)
        shutil.copy(args.float32, f32)
        shutil.copy(args.float32, int8)
        for p in (plain, int8):
            open_vault(p).close()  # migrated as `vault` would (the float32 copy stays as it was)
        recall(f32, int8, out)
        sizes(plain, f32, int8, out)
        _throughput_on_copy(args, tmp, out, plain)
        out["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(out)
    if args.json_out:
        args.json_out.write_text(json.dumps(out, indent=2))


def _throughput_on_copy(args, tmp: Path, out: dict, plain: Path | None = None) -> None:
    """The throughput comparison on a copy of the plain vault (`plain`, default --plain) in `tmp`."""
    from vault.store import open_vault

    work = tmp / "work.duckdb"
    shutil.copy(plain or args.plain, work)
    con = open_vault(work)
    try:
        throughput(con, args.sample, out, args.throughput_repeat)
    finally:
        con.close()


def _done(out: dict, args, report_fn) -> None:
    """The load after the run, the figures as JSON, then in words, and into --json-out."""
    out["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))
    report_fn(out)
    if args.json_out:
        args.json_out.write_text(json.dumps(out, indent=2))


def report_throughput(t: dict, v: dict | None = None) -> None:
    print(f"\nembed: vault {t['vault_texts_per_s']} texts/s end to end (wall {t['vault_wall_s']} s, "
          f"CPU {t['vault_cpu_s']} s) vs bare encode {t['bare_texts_per_s']} texts/s (wall {t['bare_wall_s']}, "
          f"CPU {t['bare_cpu_s']}) on the same {t['distinct_texts']} texts -> {t['ratio']}x by wall "
          f"(target >= 0.9), {t['cpu_ratio']}x by CPU (medians)")
    if "padding" in t:
        p = t["padding"]
        print(f"tokens the batches compute: {p['by_chars']} sorted by characters (bare encode), {p['by_tokens']} "
              f"by tokens (the vault); the texts hold {p['tokens']}")
    if v:
        print(f"vault's int8 vectors vs bare encode's quantised: {v['identical']} of {v['vectors']} identical (largest "
              f"step {v['max_step']}); recall@10 per message {v['recall_at_10_messages']} over {v['queries']} queries "
              f"(worst {v['worst_query']})")


def report_latency(o: dict) -> None:
    for name, m in [*o["latency"]["median_of_runs"].items(),
                    *((f"{k} CPU", v) for k, v in o["latency"]["cpu_median_of_runs"].items())]:
        print(f"{name}: hybrid {m['hybrid']} ms, "
              f"semantic {m['semantic']} ms, keyword {m['keyword']} ms, query encoding {m['encode']} ms; "
              f"--human-only: hybrid {m['hybrid_human_only']} ms, semantic {m['semantic_human_only']} ms "
              f"(medians over {o['latency']['queries']} queries; median of runs; target hybrid < 50 ms)")
    print(f"load average {o['load_average']} -> {o['load_average_after']}")


def report(o: dict) -> None:
    t, r, s = o["throughput"], o["recall"], o["size"]
    print(json.dumps(o, indent=2))
    report_throughput(t, o.get("vectors_vs_bare"))
    print(f"recall@10 int8 vs float32: {r['recall_at_10_vectors']} per vector, {r['recall_at_10_messages']} per "
          f"message over {r['queries']} queries ({r['phrases']} phrases + {r['human_turns']} human turns) "
          "(target >= 0.98)")
    mb = 2 ** 20
    print(f"size: embeddings int8 {s['int8_tables_bytes'] / mb:.2f} MB ({s['int8_tables_ratio']}x the archive; "
          f"file +{s['int8_file_growth_bytes'] / mb:.2f} MB, {s['int8_file_ratio']}x) vs float32 "
          f"{s['float32_tables_bytes'] / mb:.2f} MB ({s['float32_tables_ratio']}x; file "
          f"+{s['float32_file_growth_bytes'] / mb:.2f} MB, {s['float32_file_ratio']}x); archive "
          f"{s['archive_bytes'] / mb:.1f} MB (target <= 0.15x)")
    print(f"load average {o['load_average']} -> {o['load_average_after']}")


if __name__ == "__main__":
    main()
