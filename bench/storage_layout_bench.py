"""The vault's size and read latency before and after m010 (raw records in zstd frames), in one run.

    nice -n 10 python bench/storage_layout_bench.py --db bench/data/vault-1g.duckdb \
        --archive bench/data/archive [--before-ref <commit>] [--ingest-corpus ../shared/corpora/claude-code]

`--db` is a vault written by the previous version (records.raw); it is only read. The previous
version's code is `git archive <before-ref>` (default: the commit before vault/rawstore.py was
added), run with this interpreter. Measured, all in this run:
  size       the vault by table and its ratio to the archive (vault.storage): before; after m010
             (a copy migrated by this version, the file as left, with DuckDB's free blocks); and the
             same after `COPY FROM DATABASE` into a new file (what a vault written fresh holds)
  migrate    wall time of m010 on the copy (backup copy included)
  show       `vault show <session> --json` as a command: the previous code on the old vault vs this
             code on the migrated one, the sessions with the most messages, median of --rounds
  raw reads  in-process: one record by (file, line), and every record of a file, before vs after
  ingest     cold `vault ingest --no-embed` of --ingest-corpus, previous code vs this code,
             alternating, median wall and CPU of --rounds
  archive    with --archive: one cold ingest of it with each version, its time and the vault's size
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
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

from _common import mb, src_env  # noqa: E402


def before_ref() -> str:
    added = subprocess.run(["git", "-C", str(ROOT), "log", "--diff-filter=A", "--format=%H", "--", "vault/rawstore.py"],
                           capture_output=True, text=True, check=True).stdout.split()
    return f"{added[-1]}^"


def checkout(ref: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def cli(src: Path, *args: str) -> tuple[float, float]:
    """Run `vault *args` from the code in `src`; (wall s, CPU s of the child)."""
    env = src_env(src, HF_HUB_OFFLINE="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    # `-c`, not _common.VAULT (`-m vault.cli`): the tree before rawstore has no vault/cli/__main__.py yet
    subprocess.run([sys.executable, "-c", "import sys; sys.argv[0] = 'vault'; from vault.cli import main; main()",
                    *args], env=env, cwd=src, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def sizes(db: Path) -> dict:
    from vault.storage import storage_report
    from vault.store import connect

    con = connect(db, read_only=True)
    try:
        rep = storage_report(con, db)
    finally:
        con.close()
    rep["used_bytes"] = rep["used_blocks"] * rep["block_size"]
    return rep


def compact(db: Path, dest: Path) -> None:
    from vault.sqlstring import sql_string
    from vault.store import connect

    con = connect(dest)
    con.execute(f"ATTACH {sql_string(db)} AS src (READ_ONLY)")
    con.execute(f"COPY FROM DATABASE src TO \"{dest.stem}\"")
    con.execute("DETACH src")
    con.execute("CHECKPOINT")
    con.close()


def raw_reads(db: Path, probes: list[tuple[int, int]], files: list[int], new: bool) -> dict:
    """Median ms to read one record, and one whole file's records, with this layout's reader."""
    from vault.rawstore import read_raw
    from vault.store import connect

    con = connect(db, read_only=True)
    one, whole = [], []
    try:
        for f, line in probes:
            t = time.perf_counter()
            if new:
                got = list(read_raw(con, "r.file_id = ? AND r.line_no = ?", [f, line]))
            else:
                got = con.execute("SELECT file_id, line_no, raw FROM records WHERE file_id = ? AND line_no = ?",
                                  [f, line]).fetchall()
            one.append(time.perf_counter() - t)
            assert len(got) == 1
        for f in files:
            t = time.perf_counter()
            if new:
                n = sum(1 for _ in read_raw(con, "r.file_id = ?", [f]))
            else:
                n = len(con.execute("SELECT line_no, raw FROM records WHERE file_id = ? ORDER BY line_no",
                                    [f]).fetchall())
            whole.append(time.perf_counter() - t)
            assert n > 0
    finally:
        con.close()
    return {"one_record_ms": round(1000 * statistics.median(one), 3),
            "one_file_ms": round(1000 * statistics.median(whole), 2)}


def main(argv: list[str] | None = None) -> None:
    from vault.store import connect, open_vault

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="a vault written by the previous version")
    ap.add_argument("--archive", type=Path, help="also cold-ingest this archive with each version (sizes, times)")
    ap.add_argument("--before-ref", default=None)
    ap.add_argument("--sessions", type=int, default=5, help="sessions shown")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--probes", type=int, default=200, help="records read one at a time")
    ap.add_argument("--ingest-corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "claude-code")
    ap.add_argument("--tmp", type=Path, default=None, help="scratch folder (room for two copies of --db)")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="storage-layout-", dir=args.tmp))
    ref = args.before_ref or before_ref()
    old_src = checkout(ref, tmp / "before-src")
    out: dict = {"db": str(args.db), "before_ref": ref}
    try:
        con = connect(args.db, read_only=True)
        assert "raw" in {r[0] for r in con.execute("DESCRIBE records").fetchall()}, "--db must be a previous-layout vault"
        sids = [r[0] for r in con.execute(
            "SELECT session_id FROM sessions WHERE session_id NOT LIKE '%/%' ORDER BY messages DESC, session_id "
            f"LIMIT {args.sessions}").fetchall()]
        rng = random.Random(0)
        all_recs = con.execute("SELECT file_id, line_no FROM records").fetchall()
        probes = rng.sample(all_recs, min(args.probes, len(all_recs)))
        files = [r[0] for r in con.execute(
            "SELECT file_id FROM files WHERE records > 0 ORDER BY size DESC LIMIT 20").fetchall()]
        con.close()
        del all_recs

        out["before"] = sizes(args.db)
        after = tmp / "after.duckdb"
        shutil.copy(args.db, after)
        t = time.perf_counter()
        open_vault(after).close()
        out["migrate_seconds"] = round(time.perf_counter() - t, 1)
        for b in after.parent.glob("after.duckdb.bak-*"):
            b.unlink()  # the migration's backup copy: not needed here
        out["after_migrated"] = sizes(after)
        compacted = tmp / "compacted.duckdb"
        compact(after, compacted)
        out["after_compacted"] = sizes(compacted)
        compacted.unlink()

        show = {"before": [], "after": []}
        for _ in range(args.rounds):
            for sid in sids:
                show["before"].append(cli(old_src, "--db", str(args.db), "show", sid, "--json")[0])
                show["after"].append(cli(ROOT, "--db", str(after), "show", sid, "--json")[0])
        out["show_ms"] = {k: round(1000 * statistics.median(v), 0) for k, v in show.items()}
        out["raw_reads"] = {"before": raw_reads(args.db, probes, files, new=False),
                            "after": raw_reads(after, probes, files, new=True)}
        after.unlink()

        if args.ingest_corpus and args.ingest_corpus.exists():
            runs: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
            for i in range(args.rounds):
                for name, src in (("before", old_src), ("after", ROOT)):
                    db = tmp / f"ingest-{name}-{i}.duckdb"
                    runs[name].append(cli(src, "--db", str(db), "ingest", "--no-embed", str(args.ingest_corpus)))
                    if name == "after":
                        out.setdefault("ingest_sizes", {})["after"] = sizes(db)["file_bytes"]
                    else:
                        out.setdefault("ingest_sizes", {})["before"] = sizes(db)["file_bytes"]
                    db.unlink()
            out["ingest"] = {"corpus": str(args.ingest_corpus), **{
                k: {"wall_s": round(statistics.median(w for w, _ in v), 2),
                    "cpu_s": round(statistics.median(c for _, c in v), 2)} for k, v in runs.items()}}
        if args.archive:
            for name, src in (("before", old_src), ("after", ROOT)):
                db = tmp / f"archive-{name}.duckdb"
                wall, cpu = cli(src, "--db", str(db), "ingest", "--no-embed", str(args.archive))
                out.setdefault("archive_ingest", {})[name] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                                                              "size": sizes(db)}
                db.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(out)


def report(o: dict) -> None:
    b, m, c = o["before"], o["after_migrated"], o["after_compacted"]
    print(f"vault {o['db']}; archive {mb(b['archive_bytes'])} MB; previous version: {o['before_ref']}")
    names = sorted(set(b["tables"]) | set(c["tables"]), key=lambda t: -max(b["tables"].get(t, {}).get("bytes", 0),
                                                                          c["tables"].get(t, {}).get("bytes", 0)))
    print(f"{'table':<28}{'before MB':>11}{'after MB':>11}")
    for t in names[:12]:
        print(f"{t:<28}{mb(b['tables'].get(t, {}).get('bytes', 0)):>11}{mb(c['tables'].get(t, {}).get('bytes', 0)):>11}")
    for label, r in (("before", b), ("after m010, file as migrated", m), ("after m010, rewritten", c)):
        print(f"{label:<30} file {mb(r['file_bytes']):>8} MB (used {mb(r['used_bytes'])} MB): "
              f"{r['ratio_to_archive']}x the archive")
    print(f"m010 on this vault: {o['migrate_seconds']} s")
    s = o["show_ms"]
    print(f"vault show --json (command, median): before {s['before']:.0f} ms, after {s['after']:.0f} ms "
          f"({s['after'] / s['before']:.2f}x)")
    rb, ra = o["raw_reads"]["before"], o["raw_reads"]["after"]
    print(f"raw read, one record: before {rb['one_record_ms']} ms, after {ra['one_record_ms']} ms; "
          f"a whole file (20 largest, median): before {rb['one_file_ms']} ms, after {ra['one_file_ms']} ms")
    if "ingest" in o:
        i = o["ingest"]
        print(f"cold ingest of {i['corpus']} (median): before {i['before']['wall_s']} s wall / {i['before']['cpu_s']} s CPU, "
              f"after {i['after']['wall_s']} s / {i['after']['cpu_s']} s "
              f"({i['after']['cpu_s'] / i['before']['cpu_s']:.2f}x CPU); vault file {mb(o['ingest_sizes']['before'])} MB "
              f"-> {mb(o['ingest_sizes']['after'])} MB")
    for name, a in o.get("archive_ingest", {}).items():
        z = a["size"]
        top = ", ".join(f"{t} {mb(v['bytes'])}" for t, v in list(z["tables"].items())[:5])
        print(f"cold ingest of the archive, {name}: {a['wall_s']} s wall / {a['cpu_s']} s CPU; file "
              f"{mb(z['file_bytes'])} MB (used {mb(z['used_bytes'])} MB) = {z['ratio_to_archive']}x the archive; "
              f"largest tables (MB): {top}")
    print(json.dumps(o))


if __name__ == "__main__":
    main()
