"""Raw records, kept losslessly and compressed: zstd frames of a file's records, up to CHUNK_BYTES each.

`records` holds each record's metadata (line, offset, type, ids) and where its bytes are: a chunk
of `record_chunks` and the slice (`raw_start`, `raw_len`, in UTF-8 bytes) of the chunk's decompressed
bytes. A chunk is one zstd frame holding consecutive records of one file, back to back; a file
written in several ingests (appends) has several chunks. Since m017 a frame is stored in rows of
PIECE_BYTES (`piece` 0, 1, ...): DuckDB keeps a string of 4 KiB or more in overflow blocks, which it held in
memory outside its cap while an ingest appended. Frames per chunk, not per record: the raw
JSON of Claude Code lines compresses to about 0.10x in 1 MiB frames and to 0.18x one record
at a time even with a trained dictionary (docs/storage.md); reading one record decodes its chunk
(well under a millisecond). Nothing on the `vault show` / search path reads raw records.

Every reader goes through `read_raw`; every writer through `write_records` (or its two halves: `pack_records`,
which an ingest worker process runs, and `write_packed`) and `delete_files`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import zstandard

from vault.arrow_small import take
from vault.bulk import insert_arrow, insert_rows

if TYPE_CHECKING:  # (not imported at run time: ingest workers load this module without DuckDB)
    import duckdb

CHUNK_BYTES = 1 << 20  # raw bytes per frame: 0.097x at level 3, ~0.3 ms to decode one (bench/storage_bench.py)
LEVEL = 3
PIECE_BYTES = 4000  # a frame's bytes per row of `record_chunks`: under DuckDB's 4 KiB limit for a string kept inline
# Columns of `records` besides the raw bytes, in the order `write_records` takes them.
META_COLUMNS = ("file_id", "line_no", "byte_offset", "record_type", "record_id", "parent_id", "session_id")
# While reading, at most READ_CHUNKS frames are held decoded (up to CHUNK_BYTES each) and READ_RECORDS records' spans:
# sparse records (a session title's `summary`, one per file) each need their own frame, and 4,096 of them once held
# every frame they touched decoded at the same time (174 frames, ~120 MB, for the 1 GB archive's titles).
READ_CHUNKS = 16
READ_RECORDS = 4096


def pack(raws: Sequence[bytes], limit: int | None = None) -> Iterator[tuple[bytes, list[tuple[int, int]]]]:
    """Consecutive records in frames of at most `limit` raw bytes (or one larger record):
    (frame, [(start, length)] per record)."""
    limit = CHUNK_BYTES if limit is None else limit
    cctx = zstandard.ZstdCompressor(level=LEVEL)
    i = 0
    while i < len(raws):
        j, size, spans = i, 0, []
        while j < len(raws) and (j == i or size + len(raws[j]) <= limit):
            spans.append((size, len(raws[j])))
            size += len(raws[j])
            j += 1
        yield cctx.compress(b"".join(raws[i:j])), spans
        i = j


def write_records(con: duckdb.DuckDBPyConnection, rows: Iterable[Sequence[Any]], layout: str = "pieces") -> int:
    """Store records: `rows` are META_COLUMNS + the raw text, grouped by file in line order. Returns the count."""
    by_file: dict[int, list[Sequence[Any]]] = {}
    for r in rows:
        by_file.setdefault(r[0], []).append(r)
    return write_packed(con, [(file_id, *pack_records([r[1:] for r in recs])) for file_id, recs in by_file.items()],
                        layout)


@functools.cache
def packed_schema():
    """What `pack_records` gives per record: META_COLUMNS but file_id, the frame (its index in the file's
    frames) and the record's slice of it. (A function: pyarrow is imported lazily.)"""
    import pyarrow as pa

    return pa.schema([("line_no", pa.int32()), ("byte_offset", pa.int64()), ("record_type", pa.string()),
                      ("record_id", pa.string()), ("parent_id", pa.string()), ("session_id", pa.string()),
                      ("frame", pa.int32()), ("raw_start", pa.int32()), ("raw_len", pa.int32())])


def pack_records(recs: Sequence[Sequence[Any]]) -> tuple[list[bytes], Any]:
    """One file's records (META_COLUMNS but file_id, + the raw text, in line order) as zstd frames and an
    Arrow table of their metadata (`packed_schema`). Needs no connection: ingest workers run it."""
    import pyarrow as pa

    frames: list[bytes] = []
    frame_of: list[int] = []
    starts: list[int] = []
    lengths: list[int] = []
    for frame, spans in pack([r[-1].encode("utf-8") for r in recs]):
        frame_of.extend([len(frames)] * len(spans))
        frames.append(frame)
        for start, length in spans:
            starts.append(start)
            lengths.append(length)
    cols = list(zip(*recs, strict=True)) or [()] * len(META_COLUMNS)
    schema = packed_schema()
    arrays = [pa.array(c, t) for c, t in zip(cols[:6], schema.types[:6], strict=True)]
    arrays += [pa.array(v, pa.int32()) for v in (frame_of, starts, lengths)]
    return frames, pa.Table.from_arrays(arrays, schema=schema)


def write_packed(con: duckdb.DuckDBPyConnection, files: Sequence[tuple[int, list[bytes], Any]],
                 layout: str = "pieces") -> int:
    """Store what `pack_records` made: (file_id, frames, table) per file. Returns the number of records.
    `layout`: "pieces" (m017: each frame in pieces of PIECE_BYTES), "frames" (m010's table, one row a frame:
    m010 itself writes so)."""
    import pyarrow as pa

    total = sum(len(frames) for _, frames, _ in files)
    if not total:
        return 0
    ids = [r[0] for r in con.execute(f"SELECT nextval('chunk_ids') FROM range({total})").fetchall()]
    chunks: list[tuple[int, int, bytes]] = []
    tables = []
    for file_id, frames, table in files:
        mine = ids[len(chunks) : len(chunks) + len(frames)]
        chunks.extend((chunk_id, file_id, frame) for chunk_id, frame in zip(mine, frames, strict=True))
        tables.append(table.append_column("file_id", pa.repeat(pa.scalar(file_id, pa.int32()), table.num_rows))
                      .append_column("chunk_id", take(mine, table["frame"])))
    if layout == "frames":
        insert_rows(con, "record_chunks", ("chunk_id", "file_id", "data"), chunks)
    else:
        insert_pieces(con, chunks)
    records = pa.concat_tables(tables)
    insert_arrow(con, "records", (*META_COLUMNS, "chunk_id", "raw_start", "raw_len"), records)
    return records.num_rows


def insert_pieces(con: duckdb.DuckDBPyConnection, chunks: Iterable[tuple[int, int, bytes]],
                  size: int | None = None) -> None:
    """Insert frames (chunk_id, file_id, frame) into `record_chunks`, each cut in pieces of `size` bytes."""
    size = size or PIECE_BYTES
    insert_rows(con, "record_chunks", ("chunk_id", "piece", "file_id", "data"),
                ((chunk_id, piece, file_id, frame[start : start + size])
                 for chunk_id, file_id, frame in chunks
                 for piece, start in enumerate(range(0, max(len(frame), 1), size))))


def delete_files(con: duckdb.DuckDBPyConnection, file_ids: Sequence[int]) -> None:
    """Drop every record of these files (a rewritten file is read again from its start)."""
    if not file_ids:
        return
    ids = ", ".join(str(int(f)) for f in file_ids)
    con.execute(f"DELETE FROM records WHERE file_id IN ({ids})")
    con.execute(f"DELETE FROM record_chunks WHERE file_id IN ({ids})")


def read_raw(con: duckdb.DuckDBPyConnection, where: str = "true", params: Sequence[Any] = (),
             columns: Sequence[str] = ("file_id", "line_no")) -> Iterator[tuple[Any, ...]]:
    """(*columns, raw text) of the records matching `where` (SQL on `records`), in (file_id, line_no) order.

    Each chunk is fetched and decoded once, a few chunks at a time, so memory stays flat.
    """
    cols = ", ".join(f"r.{c}" for c in columns)
    spans = con.execute(
        f"SELECT {cols}, r.chunk_id, r.raw_start, r.raw_len FROM records r WHERE {where} "
        "ORDER BY r.file_id, r.line_no", list(params)).fetchall()
    dctx = zstandard.ZstdDecompressor()
    n = len(columns)
    for part in _parts(spans, n):
        ids = ", ".join(map(str, sorted({s[n] for s in part})))
        data = {chunk_id: dctx.decompress(b"".join(p[1] for p in parts)) for chunk_id, parts in itertools.groupby(
            con.execute(f"SELECT chunk_id, data FROM record_chunks WHERE chunk_id IN ({ids}) "
                        "ORDER BY chunk_id, piece").fetchall(), key=lambda p: p[0])}
        for s in part:
            chunk_id, start, length = s[n], s[n + 1], s[n + 2]
            yield (*s[:n], data[chunk_id][start : start + length].decode("utf-8"))
        del data


def _parts(spans: list[tuple], n: int) -> Iterator[list[tuple]]:
    """`spans` in order, cut into runs of at most READ_RECORDS records in at most READ_CHUNKS distinct frames
    (the chunk id is field `n`)."""
    part: list[tuple] = []
    chunks: set[int] = set()
    for s in spans:
        if len(part) >= READ_RECORDS or (s[n] not in chunks and len(chunks) >= READ_CHUNKS):
            yield part
            part, chunks = [], set()
        part.append(s)
        chunks.add(s[n])
    if part:
        yield part
