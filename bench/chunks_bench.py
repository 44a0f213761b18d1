"""Chunks bench: how much text the model never reads, and what cutting chunks to its window in tokens costs and finds.

    python bench/chunks_bench.py --plain PLAIN --work DIR [--tools] [--baseline-code BASE] [--queries 80] [--fresh]

PLAIN is a vault ingested with `--no-embed` (copied, never written); BASE a checkout of the version before (whose
chunks are windows of 800 characters, cut by the model at its 256 tokens). One run measures:

1. what the model reads: the distinct chunk windows of the indexed messages (`--tools`: tool calls and results
   too), how many hold more tokens than the model's window (its own tokenizer), and how many characters no chunk's
   embedding reads (a window's text past the window and not in the next window's overlap), for both chunkers;
2. the cost: a copy embedded by BASE (`old`), then that copy brought up to date by this tree's `embed_pending` (the
   re-chunk of the messages that had a window the model cut: `migrated`), each timed in its own process (wall, CPU);
   chunks, vectors, the embeddings' bytes (as `vault stats` estimates them) and the vault file, against the archive;
   `--fresh` also embeds a copy from scratch with this tree and checks it holds the migrated copy's chunks;
3. what it finds: queries whose answer lies in a window's tail past the model's window (the tail's first words), and
   recall@10 of semantic search (the light query encoder, as the command) on `old` and `migrated`: a query counts
   as found when a hit is its message (or a message of the same text); `never_read` are those whose tail no chunk of
   `old` read. And how much ordinary results move: the top 10 of the search bench's phrases on both.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))
K = 10

EMBED_CHILD = """
import json, sys, time, resource
from pathlib import Path
import vault
from vault.store import open_vault
from vault.index import embeddings
from vault.index.settings import set_extras
t, c = time.perf_counter(), time.process_time()
con = open_vault(Path(sys.argv[1]))
if sys.argv[2] == "tools":
    set_extras(con, ["tools"])
rep = embeddings.embed_pending(con)
con.close()
print(json.dumps({"wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(time.process_time() - c, 2),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "report": rep.as_dict(), "code": str(Path(vault.__file__).parent)}))
"""


def embed_child(db: Path, tools: bool, code: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code))
    res = subprocess.run([sys.executable, "-c", EMBED_CHILD, str(db), "tools" if tools else "base"], env=env,
                         capture_output=True, text=True, check=False, cwd=code)  # (-c puts the cwd first)
    if res.returncode:
        raise SystemExit(f"embedding {db} with {code} failed: {res.stderr.strip()[-2000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert Path(out["code"]).resolve() == (code / "vault").resolve(), (out["code"], code)
    return out


def texts_of(db: Path, tools: bool) -> list[tuple[str, str]]:
    import duckdb

    from vault.index.settings import _indexed_kinds, searchable_sql

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT m.msg_id, m.text FROM messages m WHERE "
                           f"{searchable_sql(_indexed_kinds(['tools'] if tools else []))} ORDER BY m.seq").fetchall()
    finally:
        con.close()


def read_by_model(text: str, spans: list[tuple[int, int]], win) -> bytearray:
    """Which characters of `text` some chunk's embedding reads (a chunk's tokens past the window are dropped)."""
    seen = bytearray(len(text))
    for a, b in spans:
        enc = win.tokenizer.encode(text[a:b])
        offs = [o for o, m in zip(enc.offsets, enc.special_tokens_mask, strict=True) if not m]
        end = b if len(offs) <= win.limit else a + offs[win.limit][0]
        seen[a:end] = b"\x01" * (end - a)
    return seen


def measure(rows: list[tuple[str, str]]) -> dict:
    from vault.index import embeddings

    win = embeddings.window(embeddings.DEFAULT_MODEL)
    distinct = list(dict.fromkeys(t or "" for _, t in rows))
    out = {"messages": len(rows), "distinct_texts": len(distinct)}
    for name, w in (("before", embeddings.CHARS_ONLY), ("after", win)):
        t0 = time.process_time()
        spans = embeddings.chunk_spans_many(distinct, w)
        cpu = time.process_time() - t0
        chunk_texts = {t[a:b] for t, sp in zip(distinct, spans, strict=True) for a, b in sp}
        tokens = {c: len(win.tokenizer.encode(c).ids) for c in chunk_texts}
        covered = total = 0
        cut_msgs = 0
        for t, sp in zip(distinct, spans, strict=True):
            if not sp:
                continue
            seen = read_by_model(t, sp, win)
            lo, hi = sp[0][0], max(b for _, b in sp)
            span_chars = sum(1 for ch in t[lo:hi] if ch not in " \t\n\r")
            unread = sum(1 for i in range(lo, hi) if not seen[i] and t[i] not in " \t\n\r")
            total += span_chars
            covered += span_chars - unread
            cut_msgs += any(tokens[t[a:b]] > win.max_tokens for a, b in sp)
        over = [c for c, n in tokens.items() if n > win.max_tokens]
        out[name] = {"chunks": sum(len(s) for s in spans), "distinct_chunks": len(chunk_texts),
                     "over_window": len(over), "share_over": round(len(over) / max(1, len(chunk_texts)), 4),
                     "texts_with_a_cut_chunk": cut_msgs, "max_tokens": max(tokens.values(), default=0),
                     "chars": total, "chars_never_read": total - covered,
                     "share_never_read": round((total - covered) / max(1, total), 5), "chunking_cpu_s": round(cpu, 2)}
    return out


def tail_queries(rows: list[tuple[str, str]], n: int) -> list[dict]:
    """Queries whose answer is in a window's tail the model cut: the tail's first words (up to 16), for messages
    sampled by hash; `never_read` when no chunk of the old chunker read those words."""
    from vault.index import embeddings

    win = embeddings.window(embeddings.DEFAULT_MODEL)
    out = []
    for msg_id, text in sorted(rows, key=lambda r: hashlib.md5(r[0].encode()).hexdigest()):
        text = text or ""
        spans = embeddings.chunk_spans_many([text], embeddings.CHARS_ONLY)[0]
        seen = None
        for a, b in spans:
            enc = win.tokenizer.encode(text[a:b])
            offs = [o for o, m in zip(enc.offsets, enc.special_tokens_mask, strict=True) if not m]
            if len(offs) <= win.limit:
                continue
            start = a + offs[win.limit][0]
            words = text[start:b].split()[:16]
            if len(words) < 6 or len(set(words)) < 4:
                continue
            q = " ".join(words)
            qa = text.find(q.split()[0], start)
            if seen is None:
                seen = read_by_model(text, spans, win)
            out.append({"msg_id": msg_id, "query": q, "never_read": not any(seen[qa:qa + len(q)])})
            break
        if len(out) >= n:
            break
    return out


def recall(db: Path, queries: list[dict], phrases: list[str]) -> dict:
    from vault.index.search import semantic_search
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        texts = dict(con.execute("SELECT msg_id, text FROM messages").fetchall())
        found = []
        for q in queries:
            hits = semantic_search(con, q["query"], K)
            found.append(any(texts.get(h.msg_id) == texts[q["msg_id"]] for h in hits))
        tops = {p: [h.msg_id for h in semantic_search(con, p, K)] for p in phrases}
    finally:
        con.close()
    return {"found": found, "tops": tops}


def sizes(db: Path) -> dict:
    import duckdb

    from vault.index import vectors
    from vault.storage import table_sizes

    con = duckdb.connect(str(db), read_only=True)
    try:
        t = table_sizes(con)["tables"]
        archive = con.execute("SELECT coalesce(sum(size), 0) FROM files WHERE source <> 'unrecognised'").fetchone()[0]
        counts = con.execute(f"SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM {vectors.TABLE}), "
                             "(SELECT count(DISTINCT msg_id) FROM chunks)").fetchone()
    finally:
        con.close()
    emb = sum(t[n]["bytes"] for n in (*vectors.TABLES, "vectors") if n in t)
    return {"chunks": counts[0], "vectors": counts[1], "messages_with_chunks": counts[2], "embeddings_bytes": emb,
            "archive_bytes": int(archive), "embeddings_ratio": round(emb / max(1, archive), 4),
            "file_bytes": db.stat().st_size}


def chunk_set(db: Path) -> set:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return set(con.execute("SELECT msg_id, chunk_no, content_hash FROM chunks").fetchall())
    finally:
        con.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plain", type=Path, required=True, help="a vault ingested with --no-embed (copied)")
    ap.add_argument("--work", type=Path, required=True, help="a folder for the copies")
    ap.add_argument("--baseline-code", type=Path, help="the version before (default: git archive d6b603b into WORK)")
    ap.add_argument("--tools", action="store_true", help="embed tool calls and results too (`vault embed --tools`)")
    ap.add_argument("--queries", type=int, default=80)
    ap.add_argument("--fresh", action="store_true", help="also embed a copy from scratch with this tree")
    ap.add_argument("--skip-embed", action="store_true", help="part 1 only")
    ap.add_argument("--old", type=Path, help="a copy BASE embedded by an earlier run (WORK/old-kept.duckdb; its .json)")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)
    out: dict = {"load_average": [round(x, 1) for x in os.getloadavg()], "plain": str(args.plain), "tools": args.tools,
                 "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    rows = texts_of(args.plain, args.tools)
    out["measure"] = measure(rows)
    print(json.dumps(out["measure"], indent=1), flush=True)
    if not args.skip_embed:
        base = args.baseline_code
        if base is None:
            base = args.work / "base"
            if not base.exists():
                base.mkdir(parents=True)
                subprocess.run(f"git -C {ROOT} archive d6b603b | tar -x -C {base}", shell=True, check=True)
        args.work.mkdir(parents=True, exist_ok=True)
        old, migrated = args.work / "old.duckdb", args.work / "migrated.duckdb"
        for p in (old, migrated):
            p.unlink(missing_ok=True)
        if args.old:
            shutil.copy(args.old, old)
            out["old_embed"] = json.loads(args.old.with_suffix(".json").read_text())
        else:
            shutil.copy(args.plain, old)
            out["old_embed"] = embed_child(old, args.tools, base)
            shutil.copy(old, args.work / "old-kept.duckdb")
            (args.work / "old-kept.json").write_text(json.dumps(out["old_embed"]))
        out["old_size"] = sizes(old)
        shutil.copy(old, migrated)
        out["migrate"] = embed_child(migrated, args.tools, ROOT)
        out["migrated_size"] = sizes(migrated)
        if args.fresh:
            fresh = args.work / "fresh.duckdb"
            fresh.unlink(missing_ok=True)
            shutil.copy(args.plain, fresh)
            out["fresh_embed"] = embed_child(fresh, args.tools, ROOT)
            out["fresh_size"] = sizes(fresh)
            out["fresh_chunks_equal_migrated"] = chunk_set(fresh) == chunk_set(migrated)
        from search_bench import QUERIES

        queries = tail_queries(rows, args.queries)
        r_old, r_new = recall(old, queries, QUERIES), recall(migrated, queries, QUERIES)
        never = [i for i, q in enumerate(queries) if q["never_read"]]
        share = lambda f, idx: round(sum(f[i] for i in idx) / max(1, len(idx)), 3)  # noqa: E731
        allq = range(len(queries))
        out["tail_recall"] = {
            "queries": len(queries), "never_read": len(never),
            "recall_at_10_before": share(r_old["found"], allq), "recall_at_10_after": share(r_new["found"], allq),
            "never_read_before": share(r_old["found"], never), "never_read_after": share(r_new["found"], never),
            "lost": sum(a and not b for a, b in zip(r_old["found"], r_new["found"], strict=True)),
            "examples": [q["query"][:80] for q in queries[:3]],
        }
        overlap = [len(set(r_old["tops"][p]) & set(r_new["tops"][p])) / K for p in QUERIES]
        out["ordinary_queries"] = {"phrases": len(QUERIES), "top10_overlap_mean": round(sum(overlap) / len(overlap), 3),
                                   "top10_overlap_min": min(overlap)}
    out["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))
    report(out)
    if args.json_out:
        args.json_out.write_text(json.dumps(out, indent=1))


def report(o: dict) -> None:
    m = o["measure"]
    for side in ("before", "after"):
        s = m[side]
        print(f"{side}: {s['distinct_chunks']} distinct chunks of {m['distinct_texts']} distinct texts, {s['over_window']} "
              f"past the model's window ({s['share_over']:.1%}, max {s['max_tokens']} tokens); characters no embedding "
              f"reads {s['chars_never_read']} of {s['chars']} ({s['share_never_read']:.2%})")
    if "migrate" in o:
        old, new, mig = o["old_size"], o["migrated_size"], o["migrate"]
        rep = mig["report"]
        print(f"old embed (BASE): {o['old_embed']['wall_s']} s wall, {o['old_embed']['cpu_s']} s CPU, "
              f"{o['old_embed']['report']['embedded']} texts")
        print(f"migration (this tree's embed_pending): {rep['rechunked']} messages re-chunked, {rep['embedded']} texts "
              f"embedded, {mig['wall_s']} s wall, {mig['cpu_s']} s CPU (encoding {rep['encode_seconds']} s, model load "
              f"{rep['load_seconds']} s)")
        print(f"chunks {old['chunks']} -> {new['chunks']}, vectors {old['vectors']} -> {new['vectors']}, embeddings "
              f"{old['embeddings_bytes'] / 2**20:.2f} -> {new['embeddings_bytes'] / 2**20:.2f} MB "
              f"({old['embeddings_ratio']}x -> {new['embeddings_ratio']}x the archive; target <= 0.15x), file "
              f"{old['file_bytes'] / 2**20:.1f} -> {new['file_bytes'] / 2**20:.1f} MB")
        t = o["tail_recall"]
        print(f"tail queries: recall@10 {t['recall_at_10_before']} -> {t['recall_at_10_after']} over {t['queries']}; "
              f"the {t['never_read']} whose words no old chunk read: {t['never_read_before']} -> {t['never_read_after']}")
        q = o["ordinary_queries"]
        print(f"ordinary phrases: top-10 overlap old vs new {q['top10_overlap_mean']} (min {q['top10_overlap_min']})")
        if "fresh_chunks_equal_migrated" in o:
            print(f"fresh embed: {o['fresh_embed']['wall_s']} s wall; chunks equal to the migrated copy's: "
                  f"{o['fresh_chunks_equal_migrated']}")
    print(f"load average {o['load_average']} -> {o['load_average_after']}")


if __name__ == "__main__":
    main()
