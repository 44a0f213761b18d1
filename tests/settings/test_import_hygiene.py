"""Import hygiene: the CLI's light paths never load the heavy libraries (each run in a fresh interpreter).

DuckDB's Python binding itself imports pandas (when installed) as soon as a query has parameters, to
check whether they are DataFrames; the keyword search command prevents it (`vault.lightquery`), other
paths allow it. So the probe below records who asked for
each heavy module: a Python `import` (or importlib.import_module) somewhere is a failure, DuckDB's own
probe from C is allowed and reported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from support import ROOT, VAULT, vault_env

HEAVY = ("torch", "sentence_transformers", "textual", "trl", "anthropic", "openai", "pandas", "mcp")  # docs/architecture.md

PROBE = textwrap.dedent("""
    import dis, json, sys

    HEAVY = {heavy!r}
    asked = []

    def by_python(frame):
        # An import statement (IMPORT_NAME) or importlib.import_module, rather than a call from C.
        if frame.f_code.co_filename.endswith(("importlib/__init__.py", "importlib\\\\__init__.py")):
            return True
        return any(i.offset == frame.f_lasti and i.opname == "IMPORT_NAME" for i in dis.get_instructions(frame.f_code))

    class Watch:
        def find_spec(self, name, path=None, target=None):
            if name in HEAVY:
                f = sys._getframe(1)
                while f is not None and f.f_code.co_filename.startswith("<frozen importlib"):
                    f = f.f_back
                asked.append({{"module": name, "at": f"{{f.f_code.co_filename}}:{{f.f_lineno}}" if f else "?",
                              "python": bool(f and by_python(f))}})
            return None

    sys.meta_path.insert(0, Watch())
    try:
        {code}
    except SystemExit:
        pass
    print("\\nPROBE " + json.dumps({{"loaded": [m for m in HEAVY if m in sys.modules], "asked": asked}}))
""")


def probe(code: str, heavy: tuple[str, ...] = HEAVY) -> dict:
    src = PROBE.format(heavy=heavy, code=code)
    res = subprocess.run([sys.executable, "-c", src], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=vault_env())
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.rsplit("PROBE ", 1)[1])


def assert_light(rep: dict) -> None:
    python_asked = [a for a in rep["asked"] if a["python"]]
    assert not python_asked, f"Python code imported heavy modules: {python_asked}"
    assert set(rep["loaded"]) <= {"pandas"}, rep  # pandas only through DuckDB's own probe (see above)
    assert all(a["module"] == "pandas" for a in rep["asked"]), rep


@pytest.mark.parametrize("code", [
    "import vault.cli",
    "from vault.cli import main; main(['--help'])",
    "from vault.cli import main; main(['stats', '--help'])",
    "from vault.cli import main; main(['search', '--help'])",
    "from vault.cli import main; main(['config', '--json'])",
    "from vault.cli import main; main(['hooks', '--help'])",
    "from vault.cli import main; main(['mcp', '--help'])",
])
def test_the_cli_entry_points_load_nothing_heavy(code):
    rep = probe(code)
    assert_light(rep)
    assert rep["loaded"] == []  # not even pandas: no query runs


def test_ingest_without_embedding_loads_nothing_heavy(tmp_path):
    fixture = ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout"
    rep = probe(f"from vault.cli import main; main(['--db', {str(tmp_path / 'v.duckdb')!r}, 'ingest', '--no-embed', "
                f"'--json', {str(fixture)!r}])")
    assert_light(rep)
    assert (tmp_path / "v.duckdb").exists()


def test_keyword_search_from_the_cli_loads_nothing_heavy_not_even_pandas(tmp_path):
    """The keyword path runs parameterised queries, yet DuckDB's pandas probe must not load pandas (nor numpy)."""
    db = str(tmp_path / "v.duckdb")
    fixture = str(ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout")
    probe(f"from vault.cli import main; main(['--db', {db!r}, 'ingest', '--no-embed', {fixture!r}])")
    src = f"from vault.cli import main; main(['--db', {db!r}, 'search', '--mode', 'keyword', '--json', 'review', 'diff'])"
    # importlib.metadata: duckdb's own version lookup, skipped by vault.lightquery.light_duckdb_import (20 ms)
    rep = probe(src, heavy=(*HEAVY, "numpy", "importlib.metadata"))
    assert rep["loaded"] == [], rep
    assert rep["asked"] == [], rep
    hits = json.loads(subprocess.run([sys.executable, "-c", src], cwd=ROOT, capture_output=True, text=True,
                                     timeout=300, check=True).stdout)
    assert hits and all(h["session_id"].startswith("3333") for h in hits)  # the search ran and found the fixture


def test_default_search_without_embeddings_falls_back_to_keyword_without_pandas(tmp_path):
    db = str(tmp_path / "v.duckdb")
    fixture = str(ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout")
    probe(f"from vault.cli import main; main(['--db', {db!r}, 'ingest', '--no-embed', {fixture!r}])")
    rep = probe(f"from vault.cli import main; main(['--db', {db!r}, 'search', '--json', 'review'])",
                heavy=(*HEAVY, "numpy"))
    assert rep["loaded"] == [] and rep["asked"] == [], rep


@pytest.mark.parametrize("mode", ["semantic", "hybrid", None])
def test_semantic_and_hybrid_search_from_the_cli_load_no_torch(tmp_path, mode):
    """The query is encoded by vault.index.encoder (numpy): no torch, sentence_transformers, transformers
    nor pandas is loaded, and the search finds the fixture's messages by meaning."""
    from vault.index import after_ingest
    from vault.ingest import ingest
    from vault.store import open_vault

    db = tmp_path / "v.duckdb"
    con = open_vault(db)  # embedded here, with sentence-transformers; the probe runs in a fresh process
    try:
        ingest(con, [ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout"])
        assert after_ingest(con, embed=True)["embed"]["embedded"] > 0
    finally:
        con.close()
    args = ["--db", str(db), "search", *(["--mode", mode] if mode else []), "--json", "look over my changes"]
    # pyarrow: a small vector index is read through DuckDB's numpy conversion (vault.index.vectors.ARROW_FROM);
    # rich: --json into a pipe has no spinner to draw
    rep = probe(f"from vault.cli import main; main({args!r})", heavy=(*HEAVY, "transformers", "pyarrow", "rich"))
    assert rep["loaded"] == [] and rep["asked"] == [], rep
    out = subprocess.run([*VAULT, *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=True)
    hits = json.loads(out.stdout)
    assert hits and all(h["semantic_rank"] for h in hits[:1]) and "keyword results only" not in out.stderr


def test_no_pandas_blocks_only_inside_its_block():
    code = textwrap.dedent("""
        import sys, duckdb
        from vault.lightquery import no_pandas
        con = duckdb.connect()
        with no_pandas():
            assert con.execute("SELECT ? || ?", ["a", "b"]).fetchall() == [("ab",)]
            assert "pandas" not in sys.modules or sys.modules["pandas"] is None
            try:
                import pandas
            except ImportError:
                pass
            else:
                raise AssertionError("pandas imported inside the block")
        assert "pandas" not in sys.modules
        import pandas
        assert con.execute("SELECT 1 AS x").df()["x"][0] == 1
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_the_probe_catches_a_python_import():
    """The check can fail: a Python-level import of a heavy module is reported as such."""
    rep = probe("import pandas")
    assert rep["loaded"] and rep["asked"][0]["module"] == "pandas" and rep["asked"][0]["python"]
    with pytest.raises(AssertionError, match="Python code imported heavy modules"):
        assert_light(rep)


def test_no_pandas_lets_pyarrow_work_and_pandas_load_after():
    """pyarrow (a migration run while the search opens an older vault) must take pandas as missing.

    With pandas marked `sys.modules["pandas"] = None`, pyarrow's pandas shim failed with an AttributeError.
    """
    code = textwrap.dedent("""
        import sys
        from vault.lightquery import no_pandas
        with no_pandas():
            import pyarrow as pa
            assert pa.array([b"x", None]).null_count == 1
            assert "pandas" not in sys.modules
        import pandas
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_keyword_search_on_an_older_vault_says_to_migrate_and_then_answers(tmp_path):
    """The first command after an upgrade may be a keyword search: it leaves the vault as it is and says to run
    `vault migrate` (docs/vault-file.md, "Upgrades"), which migrates as a program (m010 uses pyarrow); then it answers."""
    db = tmp_path / "v.duckdb"
    fixture = str(ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout")
    code = textwrap.dedent(f"""
        import json, subprocess, sys
        sys.path.insert(0, {str(ROOT / 'tests')!r}); sys.path.insert(0, {str(ROOT / 'tests' / 'foundation')!r})
        from vault.cli import main
        from test_migration_m010 import to_previous_layout
        try:
            main(['--db', {str(db)!r}, 'ingest', '--no-embed', {fixture!r}])
        except SystemExit:
            pass
        assert to_previous_layout(__import__('pathlib').Path({str(db)!r})) > 0
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    def vault(*args):
        return subprocess.run([*VAULT, "--db", str(db), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)

    search = ("search", "--mode", "keyword", "--json", "review", "diff")
    res = vault(*search)
    assert res.returncode == 2 and "`vault migrate`" in res.stderr and "m010_record_chunks" in res.stderr, res.stderr
    res = vault("migrate")
    assert res.returncode == 0 and "m010_record_chunks" in res.stdout, res.stderr
    res = vault(*search)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) and "internal error" not in res.stderr


def test_the_cli_imports_duckdb_without_importlib_metadata_and_with_its_version():
    """`vault.lightquery.light_duckdb_import` (set by vault.cli): duckdb's version comes from its compiled module,
    not importlib.metadata (20 ms), and is the installed package's; other names of duckdb._version still load."""
    import importlib.metadata

    code = textwrap.dedent("""
        import json, sys
        import vault.cli
        assert "duckdb" not in sys.modules  # nothing is imported before a command needs the vault
        import duckdb
        light = "importlib.metadata" not in sys.modules
        from duckdb._version import _dist_version  # a name the light module does not hold: the real one's
        print(json.dumps([duckdb.__version__, duckdb.__duckdb_version__, duckdb.version(), light,
                          _dist_version("duckdb")]))
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    version, engine, text, light, real = json.loads(res.stdout)
    assert version == importlib.metadata.version("duckdb") == real
    assert light and engine == version and text == f"{version} (with duckdb {engine})"


def test_the_cli_imports_duckdb_without_its_default_connection_and_the_same_type_objects():
    """`vault.lightquery.light_duckdb_import` defers the types duckdb's DB-API type objects name by string (parsing
    them starts DuckDB's default in-memory database at import): not made at import, and once compared, each type
    object holds the same types and answers every comparison as the real module's (loaded in another process)."""
    code = textwrap.dedent("""
        import json, sys
        light = sys.argv[1] == "light"
        if light:
            import vault.cli
        import duckdb
        from duckdb import sqltypes
        names = ["STRING", "NUMBER", "DATETIME", "BINARY", "ROWID"]
        deferred = sum(type(t).__name__ == "_TypeName" for n in names
                       for t in getattr(getattr(duckdb, n), "__dict__", {}).get("types", []))
        con = duckdb.connect()
        cols = con.execute("SELECT 1::TINYINT, 2::BIGINT, 1.5::DOUBLE, 1.5::DECIMAL(18,3), 'a', DATE '2020-01-01', "
                           "TIMESTAMP '2020-01-01', 'x'::BLOB, true").description
        kinds = [getattr(sqltypes, k) for k in dir(sqltypes) if k.isupper()] + [c[1] for c in cols]
        out = {n: [repr(getattr(duckdb, n)), [k == getattr(duckdb, n) for k in kinds],
                   [getattr(duckdb, n) == k for k in kinds], isinstance(getattr(duckdb, n), duckdb.DBAPITypeObject)]
               for n in names}
        print(json.dumps({"deferred": deferred, "objects": out}))
    """)
    runs = {}
    for mode in ("light", "real"):
        res = subprocess.run([sys.executable, "-c", code, mode], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        runs[mode] = json.loads(res.stdout)
    assert runs["light"]["deferred"] == 2 and runs["real"]["deferred"] == 0  # BIGNUM and DECIMAL, in NUMBER
    assert runs["light"]["objects"] == runs["real"]["objects"]
    assert any(runs["real"]["objects"]["NUMBER"][1]) and not all(runs["real"]["objects"]["NUMBER"][1])
