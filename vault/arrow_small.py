"""Arrow computations on a small ingest without importing `pyarrow.compute`.

Importing pyarrow.compute costs ~35 ms of CPU (it wraps every kernel and scrapes each one's docstring), more than a
small ingest (the hook's one session: a few hundred rows) spends doing the same arithmetic in Python; a large input
(a cold ingest's groups) still goes through its kernels, and so does any input once it is loaded.
"""

from __future__ import annotations

import sys
from typing import Any

SMALL_ROWS = 20_000  # rows done in Python when pyarrow.compute is not loaded yet


def _compute(rows: int) -> Any:
    """pyarrow.compute, or None for a small input while it is not loaded."""
    if rows <= SMALL_ROWS and "pyarrow.compute" not in sys.modules:
        return None
    import pyarrow.compute as pc

    return pc


def plus(values: Any, n: int) -> Any:
    """An int64 column `values` + `n` (nulls stay null)."""
    import pyarrow as pa

    pc = _compute(len(values))
    if pc is not None:
        return pc.add(values, pa.scalar(n, pa.int64()))
    return pa.array([None if v is None else v + n for v in values.to_pylist()], pa.int64())


def take(values: list[int], indices: Any) -> Any:
    """`values[i]` for each index of the integer column `indices`, as int64."""
    import pyarrow as pa

    pc = _compute(len(indices))
    if pc is not None:
        return pc.take(pa.array(values, pa.int64()), indices)
    return pa.array([values[i] for i in indices.to_pylist()], pa.int64())


def all_distinct(column: Any) -> bool:
    """Whether the non-null values of `column` are all different and none is null (`count_distinct` = rows)."""
    pc = _compute(len(column))
    if pc is not None:
        return pc.count_distinct(column).as_py() == len(column)
    values = column.to_pylist()
    return len({v for v in values if v is not None}) == len(values)


def merge_by_key(table: Any, key: str, first: str) -> Any:
    """One row per `key` value, in order of first appearance, with `table`'s schema: `first` from the key's first row
    (null included), every other column its last non-null value."""
    import pyarrow as pa

    rest = [c for c in table.column_names if c not in (key, first)]
    pc = _compute(table.num_rows)
    if pc is not None:
        merged = table.group_by(key, use_threads=False).aggregate(
            [(first, "first", pc.ScalarAggregateOptions(skip_nulls=False))] + [(c, "last") for c in rest])
        columns = {key: merged[key], first: merged[f"{first}_first"], **{c: merged[f"{c}_last"] for c in rest}}
        return pa.Table.from_arrays([columns[c] for c in table.column_names], schema=table.schema)
    rows: dict[Any, dict] = {}
    for row in table.to_pylist():
        kept = rows.get(row[key])
        if kept is None:
            rows[row[key]] = row
        else:
            kept.update((c, row[c]) for c in rest if row[c] is not None)
    return pa.Table.from_pylist(list(rows.values()), schema=table.schema)
