"""`vault.arrow_small`: the Python path (a small input, pyarrow.compute not loaded) gives what the kernels give."""

from __future__ import annotations

import pyarrow as pa
import pytest

from vault import arrow_small


@pytest.fixture(params=["python", "kernels"])
def path(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setattr(arrow_small, "_compute", lambda rows: None)
    else:
        import pyarrow.compute  # noqa: F401 (loaded: every input goes through it)
    return request.param


def test_plus(path):
    col = pa.chunked_array([pa.array([0, 1, None, 5], pa.int64())])
    assert arrow_small.plus(col, 7).to_pylist() == [7, 8, None, 12]
    assert arrow_small.plus(col, 7).type == pa.int64()


def test_take(path):
    got = arrow_small.take([10, 20, 30], pa.chunked_array([pa.array([0, 0, 2, 1], pa.int32())]))
    assert got.to_pylist() == [10, 10, 30, 20] and got.type == pa.int64()


@pytest.mark.parametrize("values, distinct", [(["a", "b", "c"], True), (["a", "b", "a"], False),
                                              (["a", None], False), ([], True)])
def test_all_distinct(path, values, distinct):
    assert arrow_small.all_distinct(pa.chunked_array([pa.array(values, pa.string())])) is distinct


def test_small_input_left_to_python_until_the_kernels_are_loaded(monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "pyarrow.compute", raising=False)
    assert arrow_small._compute(arrow_small.SMALL_ROWS) is None


def test_merge_by_key(path):
    table = pa.table({"k": ["a", "b", "a", "c", "a"], "first": [None, "s2", "s3", "s4", "s5"],
                      "x": ["x1", None, None, "x4", "x5"], "y": [1, 2, 3, None, None]})
    got = arrow_small.merge_by_key(table, "k", "first")
    assert got.schema == table.schema
    assert got.to_pylist() == [{"k": "a", "first": None, "x": "x5", "y": 3}, {"k": "b", "first": "s2", "x": None, "y": 2},
                               {"k": "c", "first": "s4", "x": "x4", "y": None}]
