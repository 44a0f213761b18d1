"""A crash while the keyword index is updated in place (issue 14): the vault already holds and indexes part of
the archive; the run adding the rest is killed at each phase of the update (or by SIGKILL at a random
moment); the next run leaves the same index and rankings as an uninterrupted one."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fts_state import index_contents, rankings
from support import EXAMPLES, ONE_COMMIT_PER_FILE, ROOT, run_cli, vault_process
from vault.faults import EXIT_CODE as FAULT_EXIT



@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    shutil.copytree(EXAMPLES / "claude-code", root / "examples")
    shutil.copytree(ROOT / "tests" / "corpus" / "conversations", root / "corpus")
    return root


def _first_part(db: Path, archive: Path) -> None:
    code, _, err = run_cli("ingest", str(archive / "examples"), "--no-embed", "--json", db=db)
    assert code == 0, err


def _rest(db: Path, archive: Path, crash_at: str | None = None) -> subprocess.Popen:
    return vault_process(db, "ingest", str(archive), "--json", "--no-embed", crash_at=crash_at, env=ONE_COMMIT_PER_FILE)


def _state(db: Path) -> dict:
    from vault.index import fts
    from vault.store import connect

    con = connect(db, read_only=True)
    try:
        queries = [r[0] for r in con.execute("SELECT term FROM fts_main_fts_docs.dict "
                                             "ORDER BY df DESC, term LIMIT 6").fetchall()] + ["tests pass", "error"]
        return {"stale": fts.needs_rebuild(con), "index": index_contents(con), "rankings": rankings(con, queries)}
    finally:
        con.close()


@pytest.fixture(scope="module")
def clean(archive, tmp_path_factory) -> dict:
    db = tmp_path_factory.mktemp("clean") / "v.duckdb"
    _first_part(db, archive)
    proc = _rest(db, archive)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "fts_added" in json.loads(out)["index"]  # the reference run updated the index in place
    state = _state(db)
    assert state["stale"] is False and state["index"]["docs"]
    return state


@pytest.mark.parametrize("phase", ["in-finish", "finish-committed", "in-fts", "fts-done"])
def test_kill_while_updating_the_index_then_rerun(archive, clean, tmp_path, phase):
    db = tmp_path / "v.duckdb"
    _first_part(db, archive)
    proc = _rest(db, archive, crash_at=phase)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == FAULT_EXIT, (phase, err.decode()[-2000:])
    code, _, err = run_cli("ingest", str(archive), "--no-embed", "--json", db=db)
    assert code == 0, err
    assert _state(db) == clean


def test_random_kills_while_updating_then_rerun(archive, clean, tmp_path):
    rng = random.Random(14)
    killed = 0
    for i in range(3):
        db = tmp_path / f"r{i}.duckdb"
        _first_part(db, archive)
        proc = _rest(db, archive)
        time.sleep(rng.uniform(0.5, 4.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.communicate(timeout=300)
        code, _, err = run_cli("ingest", str(archive), "--no-embed", "--json", db=db)
        assert code == 0, err
        assert _state(db) == clean, f"random kill {i}"
    assert killed >= 1
