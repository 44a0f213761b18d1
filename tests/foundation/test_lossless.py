"""Lossless still means lossless: every record stored (compressed, vault/rawstore.py) reads back byte for byte.

For line formats (JSONL) the file is split into lines here, independently of the parsers: each line
that is a JSON object must be a record with its line number, byte offset and exact bytes. Whole
documents (ChatGPT, Claude.ai exports) are compared with what their parser reads from the file.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from support import CLAUDE_CORPUS, CORPORA, EXAMPLES, ROOT, needs_shared
from vault import rawstore
from vault.ingest import ingest
from vault.sources import parser_by_name
from vault.store import open_vault

FIXTURES = [ROOT / "tests" / "fixtures", ROOT / "tests" / "corpus", EXAMPLES / "claude-code"]


def json_object_lines(path: Path) -> list[tuple[int, int, bytes]]:
    """(line number, byte offset, bytes without the line end) of each line holding a JSON object."""
    out, offset = [], 0
    for no, line in enumerate(path.read_bytes().splitlines(keepends=True), 1):
        body = line.rstrip(b"\r\n")
        try:
            ok = isinstance(orjson.loads(body), dict)
        except orjson.JSONDecodeError:
            ok = False
        if ok:
            out.append((no, offset, body))
        offset += len(line)
    return out


def assert_lossless(con) -> int:
    """Compare every file's stored records with the file; returns the number of records compared."""
    stored: dict[int, list[tuple[int, int | None, bytes]]] = {}
    for file_id, line_no, offset, raw in rawstore.read_raw(con, columns=("file_id", "line_no", "byte_offset")):
        stored.setdefault(file_id, []).append((line_no, offset, raw.encode("utf-8")))
    files = con.execute("SELECT file_id, path, source FROM files WHERE source <> 'unrecognised'").fetchall()
    assert files and stored
    compared = 0
    for file_id, path, source in files:
        got = stored.get(file_id, [])
        if got and got[0][1] is not None:  # a line format: the records are the file's JSON object lines
            want = json_object_lines(Path(path))
            data = Path(path).read_bytes()
            for line_no, offset, raw in got:
                assert data[offset : offset + len(raw)] == raw, (path, line_no)
        else:
            want = [(r.line_no, r.byte_offset, r.raw.encode("utf-8"))
                    for r in parser_by_name(source).parse(Path(path)).raw]
        assert got == want, path
        compared += len(got)
    assert compared == con.execute("SELECT count(*) FROM records").fetchone()[0]
    return compared


def test_fixtures_and_examples_read_back_byte_for_byte(tmp_path):
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, FIXTURES)
    assert assert_lossless(con) > 100


def test_small_frames_and_appends_read_back_byte_for_byte(tmp_path, monkeypatch):
    """Many records per file across several frames (a 2 KB frame limit), and a file grown in three ingests."""
    monkeypatch.setattr(rawstore, "CHUNK_BYTES", 2048)
    src = next(p for p in sorted((EXAMPLES / "claude-code").rglob("*.jsonl")) if p.stat().st_size > 15_000)
    lines = src.read_bytes().splitlines(keepends=True)
    grown = tmp_path / "proj" / src.name
    grown.parent.mkdir()
    con = open_vault(tmp_path / "v.duckdb")
    for part in (lines[:3], lines[3:10], lines[10:]):
        with open(grown, "ab") as fh:
            fh.write(b"".join(part))
        ingest(con, [grown])
    assert assert_lossless(con) == len(json_object_lines(grown))
    chunks = con.execute("SELECT count(*) FROM record_chunks").fetchone()[0]
    assert chunks > 3  # really split: appends and the frame limit each start a frame


def test_reads_hold_a_few_frames_at_a_time_and_read_back_byte_for_byte(tmp_path, monkeypatch):
    """Sparse records (one per frame, as session titles' `summary` records are) are read a few frames at a time:
    never more than READ_CHUNKS frames held decoded, dense or sparse, and the bytes are the same."""
    import zstandard

    monkeypatch.setattr(rawstore, "CHUNK_BYTES", 2048)
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [EXAMPLES / "claude-code"])
    dense = list(rawstore.read_raw(con, columns=("file_id", "line_no", "chunk_id")))
    sparse_where = "r.line_no = (SELECT min(line_no) FROM records x WHERE x.chunk_id = r.chunk_id)"
    sparse = list(rawstore.read_raw(con, sparse_where, columns=("file_id", "line_no", "chunk_id")))
    assert len({r[2] for r in sparse}) == len(sparse) > 3 * 3
    monkeypatch.setattr(rawstore, "READ_CHUNKS", 3)
    monkeypatch.setattr(rawstore, "READ_RECORDS", 5)
    decoded = [0]

    class CountingZstd:  # rawstore's zstandard, counting the frames decoded
        def ZstdDecompressor(self):  # noqa: N802
            real = zstandard.ZstdDecompressor()

            class D:
                def decompress(self, frame):
                    decoded[0] += 1
                    return real.decompress(frame)
            return D()

    monkeypatch.setattr(rawstore, "zstandard", CountingZstd())

    def read(where: str = "true") -> list[tuple]:
        """Every record; the frames decoded before each one is handed out are at most READ_CHUNKS."""
        out, ahead = [], []
        for rec in rawstore.read_raw(con, where, columns=("file_id", "line_no", "chunk_id")):
            ahead.append(decoded[0])
            decoded[0] = 0
            out.append(rec)
        assert max(ahead) <= 3
        return out

    assert read() == dense
    assert read(sparse_where) == sparse
    assert assert_lossless(con) == len(dense)


@needs_shared
def test_shared_corpora_read_back_byte_for_byte(tmp_path):
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [CLAUDE_CORPUS, CORPORA / "conversations", CORPORA / "wild"])
    assert assert_lossless(con) > 10_000


@pytest.mark.parametrize("limit", [1, 10, 10_000])
def test_pack_spans_cover_the_bytes(limit):
    import zstandard

    raws = [b"", b"a" * 7, "\u00e9t\u00e9".encode(), b"{}" * 50]
    out = b""
    for frame, spans in rawstore.pack(raws, limit):
        data = zstandard.ZstdDecompressor().decompress(frame)
        assert len(data) <= max(limit, max(map(len, raws)))
        out += b"".join(data[s : s + n] + b"|" for s, n in spans)
    assert out == b"".join(r + b"|" for r in raws)
