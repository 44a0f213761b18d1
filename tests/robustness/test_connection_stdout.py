"""No vault connection draws DuckDB's progress bar on stdout.

DuckDB prints a progress bar to stdout for any query over 2 s, even when stdout is a pipe: on a
256 MB archive it came out inside `vault ingest --json` (found by bench/scale_bench.py; the JSON
output did not parse). A query that long is too slow for a test, so this checks the setting that
turns it off, on every kind of connection `vault.store` makes, in a plain interpreter (under
pytest DuckDB's Python client starts with the bar off, so an in-process check could not fail).
"""

from __future__ import annotations

import json
import subprocess
import sys

from support import vault_env

CHILD = """
import json, sys
from vault.store import connect, open_vault

def bar(con):
    try:
        return con.execute("SELECT value FROM duckdb_settings() WHERE name = 'enable_progress_bar'").fetchone()[0]
    finally:
        con.close()

d = sys.argv[1]
print(json.dumps({"plain duckdb": bar(__import__("duckdb").connect()),
                  "memory": bar(connect()), "file": bar(connect(d + "/a.duckdb")),
                  "vault": bar(open_vault(d + "/v.duckdb")),
                  "vault read-only": bar(open_vault(d + "/v.duckdb", read_only=True))}))
"""


def test_every_connection_has_the_progress_bar_off(tmp_path):
    res = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, env=vault_env())
    assert res.returncode == 0, res.stderr[-1000:]
    got = json.loads(res.stdout)
    assert got.pop("plain duckdb") == "true"  # DuckDB's default here: the test can see the difference
    assert got == dict.fromkeys(got, "false")
