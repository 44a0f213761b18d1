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


def no_pandas() -> contextlib.AbstractContextManager[None]:
    """pandas imports as a missing package inside the block (`unloaded`); already loaded, it stays usable (DuckDB's
    probe then costs nothing)."""
    return unloaded(("pandas",))


class _DuckDBVersion:
    """Finder and loader of `duckdb._version` without importlib.metadata (see `light_duckdb_import`)."""

    NAME = "duckdb._version"

    def find_spec(self, name, path=None, target=None):
        if name != self.NAME or "_duckdb" not in sys.modules:  # duckdb/__init__ imports _duckdb first
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(name, self)

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        engine = sys.modules["_duckdb"].__version__
        module.__version__ = module.__duckdb_version__ = engine
        module.version = lambda: f"{engine} (with duckdb {engine})"
        module.__getattr__ = self._real  # any other name: from the real module (PEP 562)

    @classmethod
    def _real(cls, name: str):
        if name.startswith("__"):  # the import system asks for __path__ and such: not the module's names
            raise AttributeError(name)
        from importlib.machinery import PathFinder
        from importlib.util import module_from_spec

        spec = PathFinder.find_spec(cls.NAME, sys.modules["duckdb"].__path__)
        if spec is None:
            raise AttributeError(name)
        real = module_from_spec(spec)
        spec.loader.exec_module(real)
        return getattr(real, name)


class _DuckDBTypeObjects:
    """Finder and loader of `duckdb._dbapi_type_object` that runs the real module, but makes the DuckDB types it
    names by string ("BIGNUM", "DECIMAL" in NUMBER) when a type object is first compared, not at import.

    Making a type from a string parses it on DuckDB's default connection, which is created for it: an in-memory
    database started at every `import duckdb` (12 ms of CPU, more wall time on a busy machine: it starts its
    threads) that vault never uses. The module's own code runs, against a `sqltypes` that defers those calls;
    the type objects it defines then make the deferred types on first use (`_resolve_types`).
    """

    NAME = "duckdb._dbapi_type_object"

    def find_spec(self, name, path=None, target=None):
        if name != self.NAME or "_duckdb" not in sys.modules:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, sys.modules["duckdb"].__path__)
        if spec is None:
            return None
        self.real = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        import duckdb.sqltypes as sqltypes

        package = sys.modules["duckdb"]
        package.sqltypes = _DeferredSqlTypes(sqltypes)  # what the module's `from duckdb import sqltypes` binds
        try:
            exec(self.real.get_code(module.__name__), module.__dict__)
        finally:
            package.sqltypes = sqltypes
        module.sqltypes = sqltypes  # the type objects' __eq__ checks isinstance against the real class
        lazy = type("DBAPITypeObject", (module.DBAPITypeObject,), {"types": property(_resolve_types, _set_types),
                                                                   "__module__": module.__name__})
        for obj in list(vars(module).values()):
            if isinstance(obj, module.DBAPITypeObject) and any(isinstance(t, _TypeName) for t in obj.types):
                obj.__class__ = lazy


class _TypeName(tuple):
    """The arguments of a `DuckDBPyType(...)` call not made yet."""


class _DeferredSqlTypes:
    """duckdb.sqltypes, but `DuckDBPyType(...)` returns its arguments (a `_TypeName`) instead of parsing them."""

    def __init__(self, real) -> None:
        self._real = real

    def __getattr__(self, name: str):
        if name == "DuckDBPyType":
            return lambda *args: _TypeName(args)
        return getattr(self._real, name)


def _resolve_types(obj) -> list:
    types = obj.__dict__["types"]
    if any(isinstance(t, _TypeName) for t in types):
        from duckdb.sqltypes import DuckDBPyType

        types[:] = [DuckDBPyType(*t) if isinstance(t, _TypeName) else t for t in types]
    return types


def _set_types(obj, types: list) -> None:
    obj.__dict__["types"] = types


@contextlib.contextmanager
def gc_deferred() -> Iterator[None]:
    """Python's cyclic garbage collector paused over a block of imports, then restored as it was.

    Importing click, duckdb and the search modules allocates objects that live as long as the process, and
    every 700 allocations the collector walks them again: 20 collections, 5 ms of a cold keyword search's CPU,
    that free nothing. Objects left for it are collected at its next run after the block.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def light_duckdb_import() -> None:
    """Let `import duckdb` skip work vault does not need: 32 ms of CPU, a sixth of a keyword search.

    duckdb/_version.py asks importlib.metadata for the package's version, and importing that module
    (email, zipfile, csv...) and scanning sys.path is most of its 20 ms. The compiled `_duckdb` knows
    the version it was built as, which is the package's (duckdb is pinned to one release in
    pyproject.toml; tests/settings/test_import_hygiene.py checks that they agree). Names `_version` may
    gain in a later release come from the real module. And duckdb/_dbapi_type_object.py starts DuckDB's
    default in-memory database (12 ms) to parse two type names: deferred to their first use
    (`_DuckDBTypeObjects`). Nothing is loaded until duckdb itself is imported.
    """
    if "duckdb" not in sys.modules and not any(isinstance(f, _DuckDBVersion) for f in sys.meta_path):
        sys.meta_path[:0] = [_DuckDBVersion(), _DuckDBTypeObjects()]


# What an ingest that computes no embeddings never uses, though pyarrow and DuckDB import it when it is there:
# pyarrow.dataset (DuckDB, at its first scan of an Arrow table; it pulls in ssl and pyarrow's file systems),
# dateutil (pyarrow, converting datetimes) and cloudpickle (pyarrow's pickler when installed, else the standard pickle;
# it imports logging: ~5 ms of a one-session ingest). Each is optional to them: without them the same rows are written
# (docs/foundation.md). Not numpy, though pyarrow imports it for nothing here: the cold ingest's key lookups use it
# (vault.ingest_keys), and a pyarrow loaded without numpy cannot take numpy arrays later in the process.
INGEST_UNUSED = ("pyarrow.dataset", "dateutil", "pandas", "cloudpickle")


class _Unloaded:
    """A finder that answers "not installed" (ModuleNotFoundError) for some modules and their submodules."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if any(name == n or name.startswith(n + ".") for n in self.names):
            raise ModuleNotFoundError(f"{name} is kept unloaded on this path (vault.lightquery)", name=name)
        return None


@contextlib.contextmanager
def unloaded(names: tuple[str, ...] = INGEST_UNUSED) -> Iterator[None]:
    """Those of `names` not loaded yet (and their submodules) import as missing packages inside the block. Only for
    a process that will not need them afterwards either (pyarrow remembers that numpy was missing)."""
    names = tuple(n for n in names if n not in sys.modules)
    if not names:  # all loaded already: nothing to keep out
        yield
        return
    blocker = _Unloaded(names)
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)
