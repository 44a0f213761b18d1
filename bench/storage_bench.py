"""How to store the raw records: the vault's `records` now vs DuckDB zstd and three zstd layouts of the same bytes.

    python bench/storage_bench.py --db bench/data/search-1g.duckdb --files 200
    python bench/storage_bench.py --scale small          # the shared corpora, in a temporary vault

Measured on a sample of files (every record of each, in line order), all from this one run:
  raw        the records' raw JSON bytes (as read, one line each)
  duckdb     what `records` (+ `record_chunks` since m010) takes in the vault (DuckDB's blocks, vault.storage),
             scaled to the sample by its share of raw bytes
  duckdb_zstd  the sample's (file_id, raw) copied into a scratch DuckDB file with zstd forced for every column
  zstd_file  one zstd frame per file (level 3): the smallest, but reading a record decodes its file
  zstd_dict  one zstd frame per record with a dictionary trained on the sample: random access per record
  zstd_chunks  frames of up to 1 MiB of a file's records, as the vault stores them since m010
with the time to decompress one file / one record. Needs `zstandard` (bench only). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import VAULT, mb  # noqa: E402


def sample_files(con, n: int) -> list[int]:
    """Every k-th file by id: a spread of sizes and ages, the same on every run."""
    ids = [r[0] for r in con.execute("SELECT DISTINCT file_id FROM records ORDER BY file_id").fetchall()]
    step = max(1, len(ids) // n)
    return ids[::step][:n]


def main(argv: list[str] | None = None) -> None:
    import duckdb
    import pyarrow as pa
    import zstandard as zstd

    from vault.rawstore import pack, read_raw
    from vault.storage import table_sizes
    from vault.store import connect

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path)
    ap.add_argument("--scale", choices=["small"])
    ap.add_argument("--files", type=int, default=200, help="files in the sample")
    ap.add_argument("--level", type=int, default=3, help="zstd level")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="storage-bench-"))
    if args.scale == "small":
        args.db = tmp / "vault.duckdb"
        subprocess.run([*VAULT, "--db", str(args.db), "ingest", "--no-embed",
                        str(ROOT.parent / "shared" / "corpora" / "claude-code")], check=True, stdout=subprocess.DEVNULL)
    if not args.db:
        ap.error("give --db or --scale small")

    con = connect(args.db, read_only=True)  # never migrated here: either layout is read
    try:
        tables = table_sizes(con)["tables"]
        records_now = tables["records"]["bytes"] + tables.get("record_chunks", {}).get("bytes", 0)
        files = sample_files(con, args.files)
        id_list = ", ".join(str(int(f)) for f in files)
        if "raw" in {r[0] for r in con.execute("DESCRIBE records").fetchall()}:  # before m010
            total_raw = con.execute("SELECT sum(strlen(raw)) FROM records").fetchone()[0]
            rows = con.execute(f"SELECT file_id, raw FROM records WHERE file_id IN ({id_list}) "
                               "ORDER BY file_id, line_no").fetchall()
        else:
            total_raw = con.execute("SELECT sum(raw_len) FROM records").fetchone()[0]
            rows = list(read_raw(con, f"r.file_id IN ({id_list})", columns=("file_id",)))
    finally:
        con.close()
    by_file: dict[int, list[bytes]] = {}
    for fid, raw in rows:
        by_file.setdefault(fid, []).append(raw.encode())
    rows = [(fid, raw.decode()) for fid, v in by_file.items() for raw in v]
    lines = [b for v in by_file.values() for b in v]
    raw_bytes = sum(len(b) for b in lines)

    # DuckDB with zstd forced, on the same rows (a scratch file, so the size is DuckDB's on-disk size).
    scratch = tmp / "zstd.duckdb"
    sc = duckdb.connect(str(scratch))
    sc.execute("SET threads = 1")
    sc.execute("PRAGMA force_compression = 'zstd'")
    t = time.perf_counter()
    sc.register("_rows", pa.table({"file_id": pa.array([f for f, _ in rows], pa.int32()),
                                   "raw": pa.array([r for _, r in rows], pa.string())}))
    sc.execute("CREATE TABLE records AS SELECT * FROM _rows")
    sc.execute("CHECKPOINT")
    duckdb_zstd_s = time.perf_counter() - t
    used_blocks, block_size = sc.execute(
        "SELECT used_blocks, block_size FROM pragma_database_size() WHERE database_name = 'zstd'").fetchone()
    sc.close()
    duckdb_zstd = used_blocks * block_size

    # One zstd frame per file.
    cctx = zstd.ZstdCompressor(level=args.level)
    t = time.perf_counter()
    frames = {fid: cctx.compress(b"\n".join(v) + b"\n") for fid, v in by_file.items()}
    file_comp_s = time.perf_counter() - t
    zstd_file = sum(len(f) for f in frames.values())
    dctx = zstd.ZstdDecompressor()
    biggest = max(frames, key=lambda f: len(frames[f]))
    t = time.perf_counter()
    dctx.decompress(frames[biggest])
    file_decomp_ms = 1000 * (time.perf_counter() - t)

    # One frame per record, with a trained dictionary.
    t = time.perf_counter()
    dictionary = zstd.train_dictionary(110 * 1024, lines[:: max(1, len(lines) // 20000)])
    train_s = time.perf_counter() - t
    dc = zstd.ZstdCompressor(level=args.level, dict_data=dictionary)
    t = time.perf_counter()
    per_record = [dc.compress(b) for b in lines]
    rec_comp_s = time.perf_counter() - t
    zstd_dict = sum(len(c) for c in per_record) + len(dictionary.as_bytes())
    dd = zstd.ZstdDecompressor(dict_data=dictionary)
    probe = per_record[:: max(1, len(per_record) // 500)]
    times = []
    for c in probe:
        t = time.perf_counter()
        dd.decompress(c)
        times.append(time.perf_counter() - t)
    rec_decomp_us = 1e6 * statistics.median(times)

    # As the vault stores them (vault/rawstore.py): frames of up to 1 MiB of a file's records.
    t = time.perf_counter()
    chunks = [(frame, spans) for v in by_file.values() for frame, spans in pack(v)]
    chunk_comp_s = time.perf_counter() - t
    zstd_chunks = sum(len(f) for f, _ in chunks)
    times = []
    for frame, spans in chunks[:: max(1, len(chunks) // 300)]:
        start, length = spans[len(spans) // 2]
        t = time.perf_counter()
        dctx.decompress(frame)[start : start + length]
        times.append(time.perf_counter() - t)
    chunk_record_us = 1e6 * statistics.median(times)

    duckdb_now = records_now * raw_bytes / total_raw  # the sample's share of the table as stored now
    o = {
        "db": str(args.db), "sample_files": len(by_file), "sample_records": len(lines), "level": args.level,
        "records_table_mb": mb(records_now), "records_raw_mb": mb(total_raw),
        "sample_raw_mb": mb(raw_bytes),
        "sample_bytes": {"raw": raw_bytes, "duckdb_now_est": int(duckdb_now), "duckdb_zstd": duckdb_zstd,
                         "zstd_file": zstd_file, "zstd_dict": zstd_dict, "zstd_chunks": zstd_chunks},
        "ratio_to_raw": {"duckdb_now_est": round(duckdb_now / raw_bytes, 3),
                         "duckdb_zstd": round(duckdb_zstd / raw_bytes, 3),
                         "zstd_file": round(zstd_file / raw_bytes, 3), "zstd_dict": round(zstd_dict / raw_bytes, 3),
                         "zstd_chunks": round(zstd_chunks / raw_bytes, 3)},
        "seconds": {"duckdb_zstd_copy": round(duckdb_zstd_s, 2), "zstd_file_compress": round(file_comp_s, 2),
                    "zstd_dict_train": round(train_s, 2), "zstd_dict_compress": round(rec_comp_s, 2),
                    "zstd_chunks_compress": round(chunk_comp_s, 2)},
        "decompress": {"largest_file_ms": round(file_decomp_ms, 2),
                       "largest_file_raw_mb": mb(sum(len(b) + 1 for b in by_file[biggest])),
                       "one_record_median_us": round(rec_decomp_us, 1),
                       "one_record_from_chunk_median_us": round(chunk_record_us, 1)},
    }
    r = o["ratio_to_raw"]
    print(f"records on a sample of {o['sample_files']} files ({o['sample_raw_mb']} MB raw JSON): "
          f"DuckDB now {r['duckdb_now_est']}x raw, DuckDB zstd {r['duckdb_zstd']}x, "
          f"zstd per file {r['zstd_file']}x, zstd per record + dictionary {r['zstd_dict']}x, "
          f"zstd frames of <= 1 MiB (as stored) {r['zstd_chunks']}x")
    print(f"whole vault: records table {o['records_table_mb']} MB for {o['records_raw_mb']} MB of raw JSON")
    print(f"decompress: largest file ({o['decompress']['largest_file_raw_mb']} MB) "
          f"{o['decompress']['largest_file_ms']} ms; one record {o['decompress']['one_record_median_us']} us "
          f"(per record + dictionary), {o['decompress']['one_record_from_chunk_median_us']} us (its 1 MiB frame)")
    print(json.dumps(o))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
