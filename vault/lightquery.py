"""Run DuckDB queries with parameters without DuckDB importing pandas.

DuckDB's Python binding runs `import pandas` (and so numpy) the first time a query has parameters,
to check whether any of them is a DataFrame. vault never passes one, and from a cold shell that
import costs 0.3-1 s, more than a keyword search itself. Inside `no_pandas()`, an unloaded pandas is
marked unimportable (`sys.modules["pandas"] = None`): DuckDB's probe fails at once and it binds the
parameters as plain values. Leaving the block restores the import, so later code can load pandas.

Only for paths that load nothing that needs pandas (the keyword search command): an `import pandas`
inside the block raises ImportError. Not thread-safe; the CLI runs one command per process.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def no_pandas() -> Iterator[None]:
    if "pandas" in sys.modules:  # already loaded (or already blocked): DuckDB's probe costs nothing
        yield
        return
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("pandas", 0) is None:
            del sys.modules["pandas"]
