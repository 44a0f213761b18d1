"""Keyword search as a command: whole-process wall time of `vault search --mode keyword` vs `rg -i -F`.

    python bench/search_cli_bench.py --archive bench/data/archive --db bench/data/search-1g.duckdb
    python bench/search_cli_bench.py --scale small     # the shared corpora, in a temporary vault
    python bench/search_cli_bench.py ... --compare /tmp/main-src    # another checkout, in the same rounds

Each search starts a new process, as a person typing it in a shell does (the page cache is warm for
both tools). Also timed: `python -c pass` and `vault --help`, the floor every command pays. The vault
must already hold the archive (`vault ingest ARCHIVE --no-embed`); a stale keyword index is rebuilt
by a first, untimed search (which writes: give a copy of a shared vault). `--compare DIR` times the
same command from another source tree (e.g. `git archive main | tar -x -C DIR`) in the same rounds, as
the baseline of a change. Ends with one JSON line.
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
from bench.search_bench import QUERIES, dir_size, rg_command  # noqa: E402

ENV = {"HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
# Python caches each module's bytecode (__pycache__) as a person's shell lets it: with PYTHONDONTWRITEBYTECODE set
# (some sandboxes and CI), a source tree without caches compiles every vault module at each command (+30-60 ms of
# CPU). `--no-bytecode-cache` measures that case.
NO_CACHE = "PYTHONDONTWRITEBYTECODE"


def child_env(cache: bool = True, src: Path = ROOT) -> dict[str, str]:
    """A child's environment: the source tree `src` first on its path (this one unless `--compare`'s)."""
    env = src_env(src, **ENV)
    if cache:
        env.pop(NO_CACHE, None)
    else:
        env[NO_CACHE] = "1"
    return env


CACHE = True  # set by --no-bytecode-cache


CPU: dict[str, list[float]] = {}  # CPU seconds (user + system) per process, by what ran: less noisy than
# wall time on a loaded machine


def wall(cmd: list[str], what: str = "", src: Path = ROOT) -> tuple[float, bytes]:
    """Wall time of one process, output to a pipe (rg short-cuts when it sees /dev/null); a `vault` from the tree
    `src`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=child_env(CACHE, src))
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode not in (0, 1):  # rg exits 1 when nothing matched
        raise SystemExit(f"{cmd[:3]}... exited {res.returncode}")
    if what:
        CPU.setdefault(what, []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return dt, res.stdout


# Run in a fresh interpreter: CPU and wall of each step of a cold keyword search, as the command takes them.
STEPS = """
import contextlib, io, json, os, sys, time
marks, t0, c0 = [], time.perf_counter(), time.process_time()
def mark(name):
    marks.append((name, time.perf_counter(), time.process_time()))
from vault.lightquery import gc_deferred, light_duckdb_import
light_duckdb_import()  # as vault.cli does
try:  # as vault.cli.quick does (a tree without it: loaded as Python loads any extension)
    from vault.cli.quick import lazy_binding
except ImportError:
    lazy_binding = contextlib.nullcontext
with gc_deferred(), lazy_binding():  # as vault.cli does around its imports
    import duckdb; mark("import duckdb")
    import vault.cli.quick, vault.cli.search; mark("import vault.cli (no click: vault.cli.quick)")
    from vault.index import fts, search; mark("import vault search")
from vault.lightquery import no_pandas
from vault.store import open_vault
with no_pandas():
    con = open_vault(sys.argv[1], read_only=True); mark("open the vault (schema check)")
    fts.needs_rebuild(con); mark("index fresh?")
    con.execute("SET threads = 1")  # as vault.cli.search does
    stems, terms = fts.lookup(con, sys.argv[2]); mark("the query's words and terms")
    ranked = search._keyword_ranked(con, sys.argv[2], 20, search.SearchFilters(), stems=stems, terms=terms)
    mark("ranking")
    hits = search._hits(con, ranked, sys.argv[2], {}, stems); mark("hits and snippets")
    if sys.argv[3] == "json":
        json.dumps([h.as_json() for h in hits]); mark("json")
    else:  # into a file, as into a pipe
        out, sys.stdout = sys.stdout, open(os.devnull, "w", encoding="utf-8")
        vault.cli.search._print_hits(*([hits, sys.argv[2]] if "_plain_hits" in vars(vault.cli.search) else
                                       [vault.cli.common.stdout_console(), hits, sys.argv[2]]))
        sys.stdout.close(); sys.stdout = out; mark("text output")
# (the command then ends without closing the vault or the interpreter's teardown: vault.cli.main, `exit_at_once`)
out, prev = {}, (t0, c0)
for name, w, c in marks:
    out[name] = [round(1000 * (w - prev[0]), 1), round(1000 * (c - prev[1]), 1)]
    prev = (w, c)
print(json.dumps(out))
"""


def steps(db: Path, query: str, runs: int = 3, as_json: bool = False) -> dict[str, list[float]]:
    """{step: [wall ms, CPU ms]} of a cold keyword search, each the median of `runs` fresh processes."""
    per: dict[str, list] = {}
    for _ in range(runs):
        res = subprocess.run([sys.executable, "-c", STEPS, str(db), query, "json" if as_json else "text"],
                             capture_output=True, text=True,
                             check=True, env=child_env(CACHE), cwd=ROOT)
        for k, v in json.loads(res.stdout).items():
            per.setdefault(k, []).append(v)
    return {k: [statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)] for k, v in per.items()}


def check_stems(db: Path) -> dict:
    """Every distinct word of the vault's messages and tool-call arguments, stemmed by the fts extension
    (what built the index) and by `vault.index.stem` (what a search uses): how many differ."""
    from vault.index import fts, stem
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        fts.load_extension(con)
        pairs = con.execute(f"""SELECT w, stem(w, 'porter') FROM (
            SELECT DISTINCT unnest({fts.SCHEMA}.tokenize(text)) AS w FROM messages WHERE text IS NOT NULL
            UNION SELECT DISTINCT unnest({fts.SCHEMA}.tokenize(args)) FROM fts_call_args) WHERE w <> ''""").fetchall()
    finally:
        con.close()
    ours = stem.porter([w for w, _ in pairs])
    differ = [(w, theirs, mine) for (w, theirs), mine in zip(pairs, ours) if theirs != mine]
    return {"words": len(pairs), "differ": len(differ), "examples": differ[:10]}


def median_ms(xs: list[float]) -> float:
    return round(1000 * statistics.median(xs), 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--scale", choices=["small"], help="small: the shared corpora in a temporary vault")
    ap.add_argument("--queries", type=int, default=8, help="how many of search_bench's phrases")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="time `vault search --json` (what a script runs: no rich)")
    ap.add_argument("--compare", type=Path, metavar="DIR",
                    help="also time the command from this source tree (a baseline checkout) in the same rounds")
    ap.add_argument("--compare-db", type=Path, metavar="VAULT",
                    help="the vault --compare searches (default --db; give a copy when its index layout differs)")
    ap.add_argument("--check-stems", action="store_true",
                    help="also compare the index's stems with vault.index.stem's on every word of the vault")
    ap.add_argument("--steps", action="store_true",
                    help="also time each step of a cold search (fresh processes, the first query), CPU beside wall")
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help=f"run every command with {NO_CACHE}=1 (no __pycache__ written: modules compiled each time)")
    args = ap.parse_args(argv)
    global CACHE
    CACHE = not args.no_bytecode_cache
    tmp = None
    vault = VAULT  # this tree's (child_env), as the other tree's is timed: the same launch for both
    if args.scale == "small":
        args.archive = args.archive or ROOT.parent / "shared" / "corpora" / "claude-code"
        tmp = Path(tempfile.mkdtemp(prefix="search-cli-bench-"))
        args.db = tmp / "vault.duckdb"
        subprocess.run([*vault, "--db", str(args.db), "ingest", "--no-embed", str(args.archive)],
                       check=True, stdout=subprocess.DEVNULL, env=child_env())
    if not args.archive or not args.db:
        ap.error("give --archive and --db, or --scale small")

    queries = QUERIES[: args.queries]
    tail = ["--db", str(args.db), "search", "--mode", "keyword", "-n", "20", *(["--json"] if args.json else [])]
    search = [*vault, *tail]
    other = None
    if args.compare:
        other = [*VAULT, "--db", str(args.compare_db or args.db), *tail[2:]]
    rg = rg_command()
    load_before = os.getloadavg()[0]
    first, _ = wall([*search, "warm up"])  # builds a stale keyword index; not counted
    if other:
        wall([*other, "warm up"], src=args.compare)
    wall([*rg, "warm the page cache", str(args.archive)])
    python, help_, ours, theirs, base, lines, same = [], [], {}, {}, {}, {}, {}
    for _ in range(args.rounds):
        python.append(wall([sys.executable, "-c", "pass"], "python")[0])
        help_.append(wall([*vault, "--help"], "help")[0])
        for q in queries:
            phrase = f'"{q}"' if " " in q else q  # phrases as phrases, as rg searches them
            dt, mine = wall([*search, phrase], "vault")
            ours.setdefault(q, []).append(dt)
            dt, out = wall([*rg, q, str(args.archive)], "rg")
            theirs.setdefault(q, []).append(dt)
            lines[q] = out.count(b"\n")
            if other:
                dt, theirs_out = wall([*other, phrase], "compare", src=args.compare)
                base.setdefault(q, []).append(dt)
                same[q] = same.get(q, True) and theirs_out == mine  # the same hits, byte for byte
    per_query_ours = [statistics.median(v) for v in ours.values()]
    per_query_theirs = [statistics.median(v) for v in theirs.values()]
    o = {"load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)], "cores": os.cpu_count(),
        "bytecode_cache": CACHE,
        "archive": str(args.archive), "archive_mb": round(dir_size(args.archive) / 2**20, 1), "db": str(args.db),
        "queries": len(queries), "rounds": args.rounds, "tool": " ".join(rg), "json": args.json,
        "first_search_ms": round(1000 * first, 1),
        "python_startup_ms": median_ms(python), "vault_help_ms": median_ms(help_),
        "vault_search_median_ms": median_ms(per_query_ours), "rg_median_ms": median_ms(per_query_theirs),
        "rg_lines_median": statistics.median(lines.values()),
        "cpu_median_ms": {k: median_ms(v) for k, v in CPU.items()},
        "per_query_ms": {q: [median_ms(ours[q]), median_ms(theirs[q])] for q in queries},
    }
    o["vault_over_rg"] = round(statistics.median(per_query_ours) / statistics.median(per_query_theirs), 2)
    met = o["vault_search_median_ms"] < 150 and o["vault_over_rg"] < 1
    print(f"keyword search as a command: median {o['vault_search_median_ms']} ms vs {o['tool']} "
          f"{o['rg_median_ms']} ms over {o['queries']} queries x {o['rounds']} rounds -> vault takes "
          f"{o['vault_over_rg']}x rg's time (target < 1, and < 150 ms: {'met' if met else 'NOT met'}); "
          f"load average {o['load_avg'][0]} -> {o['load_avg'][1]} on {o['cores']} cores")
    cpu = o["cpu_median_ms"]
    print(f"CPU time (user+sys) per process: vault search {cpu['vault']} ms, rg {cpu['rg']} ms "
          f"(rg uses several threads); python -c pass {cpu['python']} ms, vault --help {cpu['help']} ms")
    if other:
        per_query_base = [statistics.median(v) for v in base.values()]
        o["compare"] = {"src": str(args.compare), "median_ms": median_ms(per_query_base),
                        "over_rg": round(statistics.median(per_query_base) / statistics.median(per_query_theirs), 2),
                        "per_query_ms": {q: median_ms(base[q]) for q in queries},
                        "identical_output": sum(same.values()), "queries": len(same)}
        print(f"baseline {args.compare}: median {o['compare']['median_ms']} ms ({o['compare']['over_rg']}x rg), "
              f"CPU {cpu['compare']} ms per process: this tree takes "
              f"{o['vault_search_median_ms'] / o['compare']['median_ms']:.2f}x its wall, "
              f"{cpu['vault'] / cpu['compare']:.2f}x its CPU; the same output for "
              f"{o['compare']['identical_output']} of {len(same)} queries")
    print(f"floor: python -c pass {o['python_startup_ms']} ms, vault --help {o['vault_help_ms']} ms")
    if args.steps:
        o["cold_steps_ms"] = steps(args.db, queries[0], as_json=args.json)
        print(f"a cold search of {queries[0]!r}, step by step, [wall, CPU] ms (median of 3 fresh processes):")
        for k, (w, c) in o["cold_steps_ms"].items():
            print(f"  {k:42s} {w:7.1f} {c:7.1f}")
    if args.check_stems:
        o["stems"] = check_stems(args.db)
        print(f"stems: {o['stems']['differ']} of {o['stems']['words']} distinct words of the vault stem differently "
              f"in Python than in the fts extension {o['stems']['examples'] or ''}")
    print(json.dumps(o))
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
