"""Parsing in worker processes (`ingest.workers`) stores exactly what parsing in the writing process does.

The archive mixes every source format, subagents of both layouts, a resume, a rewind, a malformed line
and a file no parser can read, committed in several groups; the pool is forced on (it normally starts
only for a large ingest) and kept a few files ahead, so results arrive while others are parsed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import copy_mixed_archive, vault_env
from vault_tables import vault_tables as tables
from vault import ingest_pool
from vault.ingest import Ingester
from vault.settings import IngestSettings
from vault.sources.claude_code import ClaudeCodeParser
from vault.store import open_vault

CRASHED = 137  # vault.faults.EXIT_CODE


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    copy_mixed_archive(root)
    good = next((root / "examples").rglob("*.jsonl")).read_bytes()
    (root / "broken.jsonl").write_bytes(good + b"{\"type\": \"user\", \"uuid\": \n")
    (root / "odd.jsonl").write_bytes(b'{"not": "a transcript"}\n')
    return root


@pytest.fixture
def pooled(monkeypatch):
    """The pool starts whatever the size, with few files in flight."""
    monkeypatch.setattr(ingest_pool, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(ingest_pool, "AHEAD_FILES", 2)


def _ingest(db: Path, paths: list[Path], workers: int):
    con = open_vault(db)
    try:
        return Ingester(con, settings=IngestSettings(workers=workers, batch_bytes=64 << 10)).run(paths)
    finally:
        con.close()


def _report(rep) -> dict:
    d = rep.as_contract()
    d["errors"] = sorted(d["errors"], key=repr)
    d["unrecognised"] = sorted(d["unrecognised"], key=repr)
    return d


def test_one_worker_and_two_store_the_same(archive, tmp_path, pooled):
    one = _ingest(tmp_path / "one.duckdb", [archive], workers=1)
    two = _ingest(tmp_path / "two.duckdb", [archive], workers=2)
    assert _report(one) == _report(two)
    a, b = tables(tmp_path / "one.duckdb"), tables(tmp_path / "two.duckdb")
    assert a["messages"] and a["tool_calls"] and len(a["files"]) > 20  # (not a comparison of empty tables)
    assert any(e["file"].endswith("broken.jsonl") and e["line"] > 0 for e in two.errors)
    assert [key for key in a if a[key] != b[key]] == []


def test_an_append_read_by_workers_continues_the_file(archive, tmp_path, pooled):
    """Incremental: the second run reads each grown file from its offset, in the workers too."""
    src = tmp_path / "src"
    shutil.copytree(archive / "examples", src)
    files = sorted(src.rglob("*.jsonl"))
    whole = {f: f.read_bytes() for f in files}
    for f, data in whole.items():  # the first half of every file's lines, then the rest
        lines = data.splitlines(keepends=True)
        f.write_bytes(b"".join(lines[: len(lines) // 2]))
    for workers, db in ((1, tmp_path / "one.duckdb"), (2, tmp_path / "two.duckdb")):
        _ingest(db, [src], workers)
    for f, data in whole.items():
        f.write_bytes(data)
    reps = [_ingest(db, [src], workers) for workers, db in ((1, tmp_path / "one.duckdb"), (2, tmp_path / "two.duckdb"))]
    assert reps[0].files == reps[1].files == len(files) and reps[1].messages_added > 0
    assert tables(tmp_path / "one.duckdb") == tables(tmp_path / "two.duckdb")
    _ingest(tmp_path / "whole.duckdb", [src], 2)
    whole_tables, grown = tables(tmp_path / "whole.duckdb"), tables(tmp_path / "two.duckdb")
    assert grown["messages"] == whole_tables["messages"] and grown["raw"] == whole_tables["raw"]


class DiesInAWorker(ClaudeCodeParser):
    """Kills the worker process parsing one file (as the kernel's OOM killer would)."""

    def parse(self, path, start_offset=0, start_line=0):
        if os.getpid() != int(os.environ["VAULT_TEST_WRITER_PID"]) and path.name == os.environ["VAULT_TEST_DIE_ON"]:
            os._exit(9)
        return super().parse(path, start_offset, start_line)


def test_a_worker_killed_loses_nothing(archive, tmp_path, pooled, monkeypatch):
    src = archive / "examples"
    victim = sorted(src.rglob("*.jsonl"))[3]
    monkeypatch.setenv("VAULT_TEST_WRITER_PID", str(os.getpid()))
    monkeypatch.setenv("VAULT_TEST_DIE_ON", victim.name)
    monkeypatch.setattr(Ingester, "_parser_for", lambda self, path, row: DiesInAWorker())
    rep = _ingest(tmp_path / "two.duckdb", [src], workers=2)
    assert rep.errors == [] and rep.files == len(list(src.rglob("*.jsonl")))
    _ingest(tmp_path / "one.duckdb", [src], workers=1)
    assert tables(tmp_path / "one.duckdb") == tables(tmp_path / "two.duckdb")


def test_killed_writer_takes_its_workers_along_and_the_rerun_is_whole(archive, tmp_path):
    """A crash of the writing process mid-ingest (VAULT_CRASH_AT) ends its workers too (else they would hold
    its pipes open), and the next run gives the vault a clean run gives."""
    db = tmp_path / "v.duckdb"
    code = ("import vault.ingest_pool as p; p.POOL_MIN_BYTES = 0; p.AHEAD_FILES = 2; "
            "from vault.cli import main; main()")
    env = vault_env({"VAULT_CRASH_AT": "file-commit#3", "VAULT_INGEST_BATCH_BYTES": "1", "VAULT_INGEST_WORKERS": "2"})
    proc = subprocess.Popen([sys.executable, "-c", code, "--db", str(db), "ingest", str(archive), "--json",
                             "--no-embed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, err = proc.communicate(timeout=60)  # returns once every process holding the pipes is gone
    assert proc.returncode == CRASHED, err.decode()[-2000:]
    _ingest(db, [archive], workers=2)
    _ingest(tmp_path / "clean.duckdb", [archive], workers=1)
    assert tables(db) == tables(tmp_path / "clean.duckdb")
