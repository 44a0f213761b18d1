"""Ingest benchmark: cold ingest against the floor of a lossless ingest measured in the same run, with
one and with several parse workers, peak memory on a 1 GB and a 4 GB archive, unchanged re-ingest.

    python bench/ingest_bench.py                                  # 1 GB archive (built once under bench/data/)
    python bench/ingest_bench.py --archive /work/bench-data/archive \\
        --large /work/bench-data/ingest/archive-4g                # + the 4 GB archive (built if missing)
    python bench/ingest_bench.py --size-mb 100                    # a quick run
    python bench/ingest_bench.py --baseline-src /tmp/main-src     # + another tree's ingest (`git archive main`;
                                                                  #   with --large, at both sizes)

The floor (issue 14): DuckDB storing every raw line (`read_json_objects` into a table of a new database
file, checkpointed) plus orjson parsing every line (one process); both are children of this script like
the ingest. Each step runs in a fresh child process: its wall time, its CPU time (user + system, its worker
processes included, from wait4) and its peak memory: the writer's own peak RSS (wait4) and the peak of the
sum over the process and its workers (sampled every 200 ms: RSS, which counts shared library pages once per
process, and PSS, which shares them out). The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_archive  # noqa: E402
from _common import fresh_vault, measured, src_env  # noqa: E402

DATA = HERE / "data"
ROOT = HERE.parent  # this tree: put first on its children's path (a shared virtualenv's editable install points at
#                     another checkout, whose `vault` a child would otherwise import: `python bench/...` puts bench/ first,
#                     not the tree)


def _child(*args: str, src: Path | None = None) -> dict:
    """Run this file in child mode (with the `vault` package of `src`, else this tree's: it comes first on the path of
    the child and of its workers); its JSON answer plus wall, CPU and memory figures."""
    run = measured([sys.executable, __file__, *args], env=src_env(src or ROOT))
    if run.code != 0:
        raise SystemExit(f"child {args[0]} failed with exit code {run.code}")
    answer = json.loads(run.out.decode().strip().splitlines()[-1])
    return {**answer, "wall_s": round(run.wall_s, 2), "cpu_s": round(run.cpu_s, 2),
            "writer_peak_rss_mb": run.peak_rss_mb, "tree_peak_rss_mb": run.tree_rss_mb,
            "tree_peak_pss_mb": run.tree_pss_mb}


# -- child steps ------------------------------------------------------------------------------
def child_ingest(db: str, workers: int, paths: list[str]) -> None:
    from vault.ingest import Ingester
    from vault.lightquery import no_pandas, unloaded
    from vault.settings import IngestSettings
    from vault.store import open_vault

    settings = IngestSettings(workers=workers)
    # As `vault ingest --no-embed` runs it (vault/cli/archive.py): pandas, pyarrow.dataset and dateutil stay unloaded.
    with no_pandas(), unloaded():
        con = open_vault(db)
        t = time.perf_counter()
        rep = Ingester(con, settings=settings).run([Path(p) for p in paths])
        secs = time.perf_counter() - t
        con.close()
    import vault

    print(json.dumps({"seconds": secs, "files": rep.files, "unchanged": rep.files_unchanged,
                      "vault_pkg": str(Path(vault.__file__).resolve().parent),
                      "messages_added": rep.messages_added, "skipped": rep.skipped_lines,
                      "records": rep.records}))


def _jsonl(paths: list[str]) -> list[str]:
    return sorted(str(f) for p in paths for f in Path(p).rglob("*.jsonl"))


def child_floor_duckdb(db: str, paths: list[str]) -> None:
    """DuckDB storing every raw line: `read_json_objects` into a table of a new file, checkpointed."""
    import duckdb

    files = _jsonl(paths)
    con = duckdb.connect(db)
    t = time.perf_counter()
    con.execute("CREATE TABLE raw AS SELECT * FROM read_json_objects(?, format = 'newline_delimited', "
                "maximum_object_size = 268435456, ignore_errors = true)", [files])
    con.execute("CHECKPOINT")
    secs = time.perf_counter() - t
    rows = con.execute("SELECT count(*) AS n FROM raw").fetchone()[0]
    con.close()
    print(json.dumps({"seconds": secs, "rows": rows}))


def child_floor_orjson(paths: list[str]) -> None:
    """orjson parsing every line, in one process."""
    import orjson

    t = time.perf_counter()
    n = 0
    for f in _jsonl(paths):
        with open(f, "rb") as fh:
            for line in fh:
                if line.strip():
                    try:
                        orjson.loads(line)
                        n += 1
                    except orjson.JSONDecodeError:
                        pass
    print(json.dumps({"seconds": time.perf_counter() - t, "rows": n}))


# -- driver -----------------------------------------------------------------------------------
def _size_mb(paths: list[Path]) -> float:
    return sum(f.stat().st_size for p in paths for f in p.rglob("*.jsonl")) / 2**20


def cold(paths: list[Path], tag: str, workers: int, keep: bool, src: Path | None = None) -> dict:
    db = fresh_vault(DATA / f"bench-{tag}-w{workers}{'-base' if src else ''}.duckdb")
    r = _child("--child-ingest", str(db), str(workers), *map(str, paths), src=src)
    assert r["vault_pkg"] == str((src or ROOT).resolve() / "vault"), (r["vault_pkg"], "not the tree meant")
    if src:
        assert src.resolve() != ROOT.resolve(), "this tree is the baseline"
    r["vault_mb"] = round(db.stat().st_size / 2**20, 1)
    if not keep:
        fresh_vault(db)
    return r


def measure(archive: list[Path], large: list[Path] | None, workers: int, keep: bool,
            baseline: Path | None = None, one_worker: bool = True) -> dict:
    args = [str(p) for p in archive]
    out: dict = {"archive_mb": round(_size_mb(archive), 1), "workers": workers}
    floor_db = fresh_vault(DATA / "bench-floor.duckdb")
    duck = _child("--child-floor-duckdb", str(floor_db), *args)
    fresh_vault(floor_db)
    orj = _child("--child-floor-orjson", *args)
    floor = duck["seconds"] + orj["seconds"]
    out["floor"] = {"duckdb_raw_table_s": round(duck["seconds"], 2), "duckdb_cpu_s": duck["cpu_s"],
                    "orjson_parse_s": round(orj["seconds"], 2), "orjson_cpu_s": orj["cpu_s"],
                    "total_s": round(floor, 2), "lines": orj["rows"], "duckdb_rows": duck["rows"]}
    runs = {}
    for w in sorted({workers, 1} if one_worker else {workers}, reverse=True):
        runs[w] = cold(archive, "1g", w, keep=keep or w == workers)
        runs[w]["ratio_to_floor"] = round(runs[w]["seconds"] / floor, 2)
    out["cold"] = {f"workers_{w}": r for w, r in runs.items()}
    out["ratio_to_floor"] = runs[workers]["ratio_to_floor"]
    if baseline:  # the same step with the other tree's package, right after (same load, same floor)
        base = cold(archive, "1g", workers, keep=keep, src=baseline.resolve())  # (kept: compare the rows)
        base["ratio_to_floor"] = round(base["seconds"] / floor, 2)
        mine = runs[workers]
        out["baseline"] = {"src": str(baseline), **base,
                           "ratio_wall": round(mine["seconds"] / base["seconds"], 3),
                           "ratio_cpu": round(mine["cpu_s"] / base["cpu_s"], 3),
                           "ratio_tree_peak_rss": round(mine["tree_peak_rss_mb"] / base["tree_peak_rss_mb"], 3)}
    db = DATA / f"bench-1g-w{workers}.duckdb"
    again = _child("--child-ingest", str(db), str(workers), *args)
    assert again["messages_added"] == 0 and again["files"] == 0, again
    out["reingest_unchanged"] = {"seconds": round(again["seconds"], 3), "wall_s": again["wall_s"],
                                 "peak_rss_mb": again["writer_peak_rss_mb"]}
    if not keep:
        fresh_vault(db)
    if large:
        out["large_archive_mb"] = round(_size_mb(large), 1)
        out["cold_large"] = cold(large, "4g", workers, keep)
        out["peak_tree_rss_growth"] = round(out["cold_large"]["tree_peak_rss_mb"]
                                            / max(1, runs[workers]["tree_peak_rss_mb"]), 2)
        if baseline:  # the baseline's flatness too, in the same run
            base = cold(large, "4g", workers, keep=False, src=baseline.resolve())
            base["peak_tree_rss_growth"] = round(base["tree_peak_rss_mb"]
                                                 / max(1, out["baseline"]["tree_peak_rss_mb"]), 2)
            out["baseline_large"] = base
    return out


def _archive(path: Path, size_mb: float) -> list[Path]:
    """The copies of an archive: those already there (a shared archive is only read), else built."""
    if path.is_dir() and any(path.iterdir()):
        return sorted(p for p in path.iterdir() if p.is_dir()) or [path]
    print(f"building a {size_mb:.0f} MB archive in {path} ...", file=sys.stderr)
    return make_archive.build(path, size_mb, quiet=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child-ingest":
        return child_ingest(argv[1], int(argv[2]), argv[3:])
    if argv and argv[0] == "--child-floor-duckdb":
        return child_floor_duckdb(argv[1], argv[2:])
    if argv and argv[0] == "--child-floor-orjson":
        return child_floor_orjson(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=1024, help="the archive (default 1 GB)")
    ap.add_argument("--archive", type=Path, default=DATA / "archive")
    ap.add_argument("--large", default="", help="a larger archive for memory flatness (built if missing; '': none)")
    ap.add_argument("--large-size-mb", type=float, default=4096)
    ap.add_argument("--workers", type=int, default=None, help="parse workers (default: the setting's, the cores)")
    ap.add_argument("--keep", action="store_true", help="keep the bench vaults under bench/data/ (the baseline's "
                    "1 GB one too: to compare the rows)")
    ap.add_argument("--baseline-src", type=Path, help="a source tree (e.g. `git archive main`) whose ingest runs "
                    "beside this one's (same archive, same workers, right after): the baseline")
    ap.add_argument("--no-one-worker", action="store_true", help="skip the cold ingest with workers = 1")
    a = ap.parse_args(argv)

    from vault.settings import IngestSettings

    workers = a.workers or IngestSettings().workers
    DATA.mkdir(parents=True, exist_ok=True)
    copies = _archive(a.archive, a.size_mb)
    large = _archive(Path(a.large), a.large_size_mb) if a.large else None  # (Path('') would be the current folder)
    import subprocess as sp

    load = os.getloadavg()
    results = {"bench": "ingest", "load_before": [round(x, 2) for x in load],
               **measure(copies, large, workers, a.keep, a.baseline_src, not a.no_one_worker)}
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["uptime"] = sp.run(["uptime"], capture_output=True, text=True).stdout.strip()
    _print(results)
    print(json.dumps(results))


def _print(r: dict) -> None:
    f, w = r["floor"], r["workers"]
    print(f"archive: {r['archive_mb']:.0f} MB, {f['lines']} lines")
    print(f"floor: DuckDB raw lines into a table {f['duckdb_raw_table_s']:.1f} s (CPU {f['duckdb_cpu_s']:.1f} s) "
          f"+ orjson parse {f['orjson_parse_s']:.1f} s (CPU {f['orjson_cpu_s']:.1f} s) = {f['total_s']:.1f} s")
    for key, c in r["cold"].items():
        print(f"cold ingest, {key.replace('_', ' = ')}: {c['seconds']:.1f} s ({c['wall_s']:.1f} s process, CPU "
              f"{c['cpu_s']:.1f} s) = {c['ratio_to_floor']}x the floor; peak memory {c['tree_peak_rss_mb']} MB RSS "
              f"/ {c['tree_peak_pss_mb']} MB PSS (writer alone {c['writer_peak_rss_mb']} MB); vault {c['vault_mb']} MB")
    if "baseline" in r:
        b = r["baseline"]
        print(f"baseline ({b['src']}), workers = {w}: {b['seconds']:.1f} s ({b['wall_s']:.1f} s process, CPU "
              f"{b['cpu_s']:.1f} s) = {b['ratio_to_floor']}x the floor; peak memory {b['tree_peak_rss_mb']} MB RSS / "
              f"{b['tree_peak_pss_mb']} MB PSS (writer alone {b['writer_peak_rss_mb']} MB); this tree / baseline: wall "
              f"{b['ratio_wall']}, CPU {b['ratio_cpu']}, peak RSS {b['ratio_tree_peak_rss']}")
    print(f"load average before / after: {r['load_before']} / {r['load_after']}")
    u = r["reingest_unchanged"]
    print(f"unchanged re-ingest: {u['seconds']:.3f} s (whole process {u['wall_s']} s)")
    if "cold_large" in r:
        c = r["cold_large"]
        print(f"cold ingest of {r['large_archive_mb']:.0f} MB, workers = {w}: {c['seconds']:.1f} s "
              f"(CPU {c['cpu_s']:.1f} s); peak memory {c['tree_peak_rss_mb']} MB RSS / {c['tree_peak_pss_mb']} MB "
              f"PSS (writer alone {c['writer_peak_rss_mb']} MB): x{r['peak_tree_rss_growth']} of the 1 GB peak")
    if "baseline_large" in r:
        b = r["baseline_large"]
        print(f"baseline, the same: {b['seconds']:.1f} s (CPU {b['cpu_s']:.1f} s); peak memory {b['tree_peak_rss_mb']} MB "
              f"RSS / {b['tree_peak_pss_mb']} MB PSS (writer alone {b['writer_peak_rss_mb']} MB): "
              f"x{b['peak_tree_rss_growth']} of its 1 GB peak")


if __name__ == "__main__":
    main()
