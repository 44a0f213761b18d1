"""`vault mcp` per-tool latency, through the official SDK's stdio client, against the same searches run
in-process on the library (the baseline: what the protocol, redaction and bounding add).

    python bench/mcp_bench.py --db /path/to/vault.duckdb     # e.g. the 1 GB benchmark vault
    python bench/mcp_bench.py                                # the shared Claude Code corpus, in a temp vault

Prints: server start (spawn + initialize), each tool's first call and median warm latency (round trip
from the client), the first semantic query (loads the embedding model) when the vault has embeddings,
and the in-process keyword search on the same queries. Every figure comes from this one run.
"""

from __future__ import annotations

import argparse
import os
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
CORPUS = ROOT.parent / "shared" / "corpora" / "claude-code"

from _common import VAULT, open_bench_vault  # noqa: E402
from search_bench import QUERIES  # noqa: E402  (the keyword benches' queries, written once)


def ms(xs: list[float]) -> float:
    return round(1000 * statistics.median(xs), 1)


def in_process_keyword(db: Path, queries: list[str], runs: int, reopen: bool) -> list[float]:
    """The library's keyword search on one open connection, or opening the vault for each query."""
    from vault.index.search import keyword_search

    times = []
    con = None if reopen else open_bench_vault(db)
    for _ in range(runs):
        for q in queries:
            t = time.perf_counter()
            c = open_bench_vault(db) if reopen else con
            keyword_search(c, q, limit=10)
            if reopen:
                c.close()
            times.append(time.perf_counter() - t)
    if con is not None:
        con.close()
    return times


async def drive(db: Path, runs: int) -> dict:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=VAULT[0], args=[*VAULT[1:], "--db", str(db), "mcp"], env={**os.environ})
    out: dict = {}
    t = time.perf_counter()
    async with stdio_client(params) as streams:
        async with ClientSession(*streams) as c:
            await c.initialize()
            out["start"] = time.perf_counter() - t

            async def call(name, args):
                t = time.perf_counter()
                r = await c.call_tool(name, args)
                dt = time.perf_counter() - t
                if r.is_error:
                    raise RuntimeError(f"{name} {args}: {r.content[0].text}")
                return dt, r.structured_content

            first, res = await call("search", {"query": QUERIES[0], "mode": "keyword"})
            out["search keyword"] = (first, [(await call("search", {"query": q, "mode": "keyword"}))[0]
                                             for _ in range(runs) for q in QUERIES])
            sid = res["results"][0]["session_id"] if res["results"] else None
            if sid:
                first, _ = await call("get_session", {"session": sid})
                out["get_session (40 messages)"] = (first, [(await call("get_session", {"session": sid}))[0]
                                                            for _ in range(runs * 4)])
            for name in ("corrections", "persona", "stats"):
                first, res = await call(name, {})
                out[name] = (first, [(await call(name, {}))[0] for _ in range(runs * 2)])
                if name == "stats":
                    out["_sessions"] = res["sessions"]
                    out["_messages"] = res["messages"]
            first, res = await call("search", {"query": "tests that fail now and then", "mode": "semantic"})
            if res["mode"] == "semantic" and res["results"]:
                out["search semantic"] = (first, [(await call("search", {"query": q, "mode": "semantic"}))[0]
                                                  for q in QUERIES])
                out["search hybrid"] = (None, [(await call("search", {"query": q}))[0] for q in QUERIES])
            else:
                out["_semantic"] = "; ".join(res.get("notes", [])) or "no semantic results"
    return out


def main() -> None:
    import anyio

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, help="the vault (default: the shared Claude Code corpus in a temp vault)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tmp = None
    db = args.db
    if db is None:
        tmp = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
        db = tmp / "vault.duckdb"
        subprocess.run([*VAULT, "--db", str(db), "ingest", "--no-embed", "--json", str(CORPUS)], check=True,
                       capture_output=True)
    open_bench_vault(db).close()  # an old or foreign vault: one line now, not the server's error mid-run
    try:
        size = db.stat().st_size / 1e6
        results = anyio.run(drive, db, args.runs)
        held = in_process_keyword(db, QUERIES, args.runs, reopen=False)
        reopened = in_process_keyword(db, QUERIES, args.runs, reopen=True)
        print(f"vault: {db} ({size:.0f} MB; {results['_sessions']} sessions, {results['_messages']} messages)")
        print(f"server start (spawn + initialize): {results['start']:.2f} s")
        print(f"{'tool':28} {'first call ms':>14} {'median ms':>10} {'calls':>6}")
        for name, v in results.items():
            if name.startswith("_") or name == "start":
                continue
            first, times = v
            print(f"{name:28} {'' if first is None else round(1000 * first, 1):>14} {ms(times):>10} {len(times):>6}")
        if "_semantic" in results:
            print(f"semantic: not measured ({results['_semantic']})")
        mcp_kw = ms(results["search keyword"][1])
        print(f"baseline: in-process keyword_search on an open connection, median {ms(held)} ms "
              f"({len(held)} queries); MCP keyword / in-process = {mcp_kw / ms(held):.2f}")
        print(f"          opening the vault for each query instead (what holding the connection saves): "
              f"median {ms(reopened)} ms")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
