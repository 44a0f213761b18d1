"""Run DuckDB queries with parameters without DuckDB importing pandas.

DuckDB's Python binding runs `import pandas` (and so numpy) the first time a query has parameters,
to check whether any of them is a DataFrame. vault never passes one, and from a cold shell that
import costs 0.3-1 s, more than a keyword search itself. Inside `no_pandas()`, an unloaded pandas
imports as a missing package would (ModuleNotFoundError, from a finder put first on `sys.meta_path`):
DuckDB's probe fails at once and it binds the parameters as plain values, and pyarrow (used by a
migration that may run when the vault is opened) takes it as "no pandas" too. (Marking it
`sys.modules["pandas"] = None` made pyarrow's pandas shim fail with an AttributeError.) Leaving the
block removes the finder, so later code can load pandas.

Only for paths that load nothing that needs pandas (the keyword search command): an `import pandas`
inside the block raises ImportError. Not thread-safe; the CLI runs one command per process.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


class _NoPandas:
    """A finder that answers "not installed" for pandas (ModuleNotFoundError, as a missing package does)."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas":
            raise ModuleNotFoundError("pandas is kept unloaded on this path (vault.lightquery)", name=name)
        return None


@contextlib.contextmanager
def no_pandas() -> Iterator[None]:
    if "pandas" in sys.modules:  # already loaded: DuckDB's probe costs nothing
        yield
        return
    blocker = _NoPandas()
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)
