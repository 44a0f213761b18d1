"""Fork marks (`on_main_branch`) after a crash: the next run derives them from the vault's records, the clean run
from the parse. The vault's records came back in no set order, and the walk (`forks._off_branch`) lets the last
record of an id win: in a real transcript that writes some uuids twice (the shared wild corpus's `scout` session),
a kill after the files were stored, then a re-run, marked 8 of its 102 messages off the main branch that an
uninterrupted run keeps. Skipped without `../shared/corpora`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import CORPORA, ONE_COMMIT_PER_FILE, run_cli, vault_process
from vault.faults import EXIT_CODE as FAULT_EXIT

WILD = CORPORA / "wild" / "claude-code"
FOLDERS = ["scout", "agentic-wallet"]  # the session with repeated uuids, and any other folder beside it


def _marks(db: Path) -> list[tuple]:
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        return con.execute("SELECT msg_id, on_main_branch FROM messages ORDER BY msg_id").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    if not all((WILD / f).is_dir() for f in FOLDERS):
        pytest.skip("needs ../shared/corpora/wild")
    root = tmp_path_factory.mktemp("wild")
    for f in FOLDERS:
        shutil.copytree(WILD / f, root / f)
    return root


@pytest.mark.parametrize("phase", ["files-done", "finish-committed"])
def test_fork_marks_after_a_crash_equal_a_clean_run(archive, tmp_path, phase):
    clean = tmp_path / "clean.duckdb"
    code, _, err = run_cli("ingest", str(archive), "--no-embed", db=clean)
    assert code == 0, err
    want = _marks(clean)
    assert sum(1 for _, on in want if on) > 100  # (the scout session's messages are all on the main branch)
    db = tmp_path / "crashed.duckdb"
    proc = vault_process(db, "ingest", str(archive), "--no-embed", crash_at=phase, env=ONE_COMMIT_PER_FILE)
    proc.communicate(timeout=300)
    assert proc.returncode == FAULT_EXIT
    code, _, err = run_cli("ingest", str(archive), "--no-embed", db=db)
    assert code == 0, err
    got = _marks(db)
    differ = [(m, on) for (m, on), (_, want_on) in zip(got, want, strict=True) if on != want_on]
    assert not differ, f"{len(differ)} messages marked otherwise than by a clean run: {differ[:5]}"
