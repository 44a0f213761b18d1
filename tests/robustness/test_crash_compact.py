"""A process killed while it rewrites the vault without its free blocks (`vault.compact.compact`: after a first ingest
that left a quarter of the file free, or after a migration that left half): the copy is written beside the vault
(`<name>.compact`) and renamed over it, so the vault itself is as it was. What the kill leaves beside it must not stay
there for good: the copy is as large as the vault."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

from support import EXAMPLES, ROOT, run_cli
from vault.faults import EXIT_CODE as FAULT_EXIT
from vault import unchanged

# Compacts the vault argv[1], the process killed (as by SIGKILL) once the copy is written, before its rename.
KILLED_COMPACT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from vault import compact, store
    compact.os.replace = lambda *a: os._exit(137)
    compact.compact(store.open_vault(sys.argv[1]), Path(sys.argv[1]))
""")


def test_a_killed_rewrite_leaves_the_vault_whole_and_no_copy_for_good(examples_vault, tmp_path):
    db = tmp_path / "v.duckdb"
    shutil.copy(examples_vault, db)
    before = run_cli("stats", "--json", db=db)[1]
    res = subprocess.run([sys.executable, "-c", KILLED_COMPACT, str(db)], cwd=ROOT, capture_output=True, timeout=300)
    assert res.returncode == FAULT_EXIT, res.stderr.decode()[-2000:]
    assert (tmp_path / "v.duckdb.compact").exists()  # (the kill came where it should)
    assert run_cli("stats", "--json", db=db)[1] == before  # the vault as it was
    code, _, err = run_cli("ingest", "--no-embed", "--json", str(EXAMPLES / "claude-code"), db=db)
    assert code == 0, err
    beside = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("v.duckdb"))
    assert beside == ["v.duckdb", "v.duckdb" + unchanged.SUFFIX]  # no copy, no WAL; the unchanged-ingest record
