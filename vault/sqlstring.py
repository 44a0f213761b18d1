"""SQL string literals: the one way a value is written into SQL text, quotes doubled (`it's` -> `'it''s'`); names
likewise (`sql_name`).

For where DuckDB takes no parameter (ATTACH, SET, LOAD, a table function's name argument) or where a constant list
must not be a parameter (nothing for DuckDB to probe; an index scan for a short list of keys). Anywhere else values
travel as parameters (`vault.sqlfilter.Filter`). It imports only `os`: the parsers and `vault.kinds` use it without
loading DuckDB, a dataclass or `typing` (tests/robustness/test_sql_literals.py finds quoting by hand).
"""

from __future__ import annotations

import os  # loaded with the interpreter already (`typing` here made `import vault.kinds` 3.4x slower)


def sql_string(value: str | os.PathLike[str]) -> str:
    """`value` as an SQL string literal, quotes included."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_strings(values: list[str] | tuple[str, ...]) -> str:
    """`'a', 'b'`: the values as literals for an SQL `IN (...)`, in the order given."""
    return ", ".join(map(sql_string, values))


def sql_name(value: str) -> str:
    """`value` as a quoted SQL identifier (`"a""b"`): a name that is not a constant of the code, such as a database's
    (a direct open names it after the file: `v"1.duckdb` is the database `v"1`)."""
    return '"' + value.replace('"', '""') + '"'
