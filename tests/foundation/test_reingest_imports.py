"""`vault ingest --no-embed` as a whole process: a cold ingest works (its key lookups use numpy) and an incremental one
loads neither numpy nor pyarrow.dataset nor dateutil nor cloudpickle (`vault.lightquery.unloaded`, `Ingester(numpy_unused=True)`),
nor pyarrow.compute (`vault.arrow_small`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "claude_code" / "kinds"
UNUSED = ("numpy", "pyarrow.dataset", "dateutil", "cloudpickle")
# The `vault` program (main() reads sys.argv), reporting at exit which modules it loaded: at the interpreter's exit, or
# at `os._exit` when the command ends the process at once (a settled ingest: `vault.cli.common.end_with_process`).
PROGRAM = (
    "import atexit, json, os, sys\n"
    f"report = lambda: print(json.dumps({{m: m in sys.modules for m in {UNUSED + ('pyarrow', 'pyarrow.compute', 'vault.index.embeddings')!r}}}), "
    "file=sys.stderr, flush=True)\n"
    "atexit.register(report)\n"
    "_exit = os._exit\n"
    "os._exit = lambda code: (report(), _exit(code))\n"
    "from vault.cli import main\n"
    "main()\n"
)


def _ingest(db, path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    res = subprocess.run([sys.executable, "-c", PROGRAM, "--db", str(db), "ingest", str(path), "--no-embed", "--json"],
                         capture_output=True, text=True, env={**env, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["files"] == 1
    return json.loads(res.stderr.strip().splitlines()[-1])


def test_cold_then_incremental_ingest_without_embeddings(tmp_path):
    src = next(FIXTURE.glob("*.jsonl"))
    session = tmp_path / "archive" / src.name
    session.parent.mkdir()
    lines = src.read_bytes().splitlines(keepends=True)
    session.write_bytes(b"".join(lines[:-1]))
    db = tmp_path / "v.duckdb"
    cold = _ingest(db, session)  # a new vault: the cold start, whose key lookups load numpy
    assert cold["pyarrow"]
    with open(session, "ab") as fh:
        fh.write(lines[-1])
    loaded = _ingest(db, session)  # one record appended
    assert loaded["pyarrow"]  # it did parse and write through Arrow
    assert {m: loaded[m] for m in UNUSED} == dict.fromkeys(UNUSED, False)
    assert not loaded["pyarrow.compute"]  # a small ingest adds in Python (vault.arrow_small)
    assert not loaded["vault.index.embeddings"]  # --no-embed
