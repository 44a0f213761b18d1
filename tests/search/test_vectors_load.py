"""The in-memory vector index reads the same whether through DuckDB's numpy conversion (small vaults: no
pyarrow to import on a cold search) or through pyarrow (large ones)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from support import ROOT
from vault.index import vectors
from vault.store import open_vault


@pytest.fixture
def con():
    c = open_vault(":memory:")
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((300, 24)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    hashes = [f"h{i:04d}" for i in range(300)][::-1]  # stored out of order: the load sorts by content_hash
    vectors.store(c, 1, hashes, vecs)
    vectors.store(c, 2, hashes[:5], vecs[:5])  # another model's vectors are not read
    rows = [(f"m{i % 170:04d}", i // 170, 1, hashes[(i * 7) % 300]) for i in range(500)]
    rows += [("m9999", 0, 1, "no-such-vector")]  # a chunk whose vector is gone is dropped
    c.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?)", rows)
    yield c
    c.close()


def test_numpy_and_arrow_loads_give_the_same_index(con, monkeypatch):
    small = vectors._load(con, 1)
    monkeypatch.setattr(vectors, "ARROW_FROM", 1)
    large = vectors._load(con, 1)
    assert small.mat.dtype == large.mat.dtype == np.float32 and small.mat.shape == (300, 24)
    for field in ("mat", "chunk_vec", "chunk_no", "starts", "msg_ids"):
        assert np.array_equal(getattr(small, field), getattr(large, field)), field
    assert list(small.msg_ids) == sorted({f"m{i % 170:04d}" for i in range(500)})
    q = small.mat[17]
    scores, _ = vectors.message_scores(small, q)
    assert np.array_equal(scores, vectors.message_scores(large, q)[0])


def test_an_empty_model_loads_empty_both_ways(con, monkeypatch):
    for arrow_from in (vectors.ARROW_FROM, 0):
        monkeypatch.setattr(vectors, "ARROW_FROM", arrow_from)
        idx = vectors._load(con, 3)
        assert idx.mat.shape == (0, 1) and len(idx.msg_ids) == 0


def test_a_small_index_loads_without_pyarrow(tmp_path):
    db = tmp_path / "v.duckdb"
    c = open_vault(db)
    c.execute("INSERT INTO vector_store VALUES (1, 'h', 0.5, [1, -2, 3])")
    c.execute("INSERT INTO chunks VALUES ('m', 0, 1, 'h')")
    c.close()
    code = ("import sys; from vault.lightquery import no_pandas\n"
            "from vault.store import open_vault\nfrom vault.index import vectors\n"
            f"con = open_vault({str(db)!r}, read_only=True)\n"
            "with no_pandas():\n    idx = vectors.index(con, 1)\n"
            "assert idx.mat.tolist() == [[0.5, -1.0, 1.5]] and idx.msg_ids.tolist() == ['m'], idx\n"
            "print(sorted(m for m in ('pyarrow', 'pandas') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
