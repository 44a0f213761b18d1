"""Crash at any moment, consistent after the next run (issue 13).

An ingest killed at each named phase (`VAULT_CRASH_AT`, see `vault.faults`) or by SIGKILL at a random
moment, then run again, leaves the same vault as one clean run: files and records, sessions with their
totals, titles and subagent links, messages with their kinds and fork marks, tool calls, and keyword
search hits; nothing left pending. The archive is the example archive plus the test fixtures (subagents
of both layouts, a resume, a rewind, titles, summaries, every source format), so it runs on a bare clone.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from crash_runs import assert_same, indexed_words, ingest, random_kills
from support import ONE_COMMIT_PER_FILE, copy_mixed_archive, forget_migration, run_cli, vault_process
from vault.faults import EXIT_CODE as FAULT_EXIT
from vault_tables import vault_tables



@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    copy_mixed_archive(root)
    return root


def _ingest_in_process(db: Path, archive: Path) -> dict:
    return ingest(db, archive)


def _subprocess(db: Path, archive: Path, crash_at: str | None = None, embed: bool = False) -> subprocess.Popen:
    return vault_process(db, "ingest", str(archive), "--json", *([] if embed else ["--no-embed"]), crash_at=crash_at,
                         env=ONE_COMMIT_PER_FILE)


def state(db: Path, words: list[str]) -> dict:
    """Everything an ingest derives, keyed by paths and ids (file ids and `seq` may differ between runs; a
    file's records may be framed otherwise after a crash), what is pending, and keyword hits of `words`."""
    return vault_tables(db, raw_slices=False, seq="session", text_md5=True, derived=True, words=words)


@pytest.fixture(scope="module")
def clean(archive, tmp_path_factory) -> dict:
    """One uninterrupted run: the reference, and what it derived (so the comparison cannot be vacuous)."""
    from vault.store import connect

    db = tmp_path_factory.mktemp("clean") / "v.duckdb"
    _ingest_in_process(db, archive)
    words = indexed_words(db, 12, max_df=6)
    con = connect(db, read_only=True)
    try:
        facts = con.execute(
            """SELECT (SELECT count(*) FROM sessions WHERE messages > 0 AND started_at IS NOT NULL),
                      (SELECT count(*) FROM sessions),
                      (SELECT count(*) FROM tool_calls WHERE subagent_session_id IS NOT NULL),
                      (SELECT count(*) FROM sessions WHERE parent_tool_use_id IS NOT NULL),
                      (SELECT count(*) FROM sessions WHERE title IS NOT NULL),
                      (SELECT count(*) FROM messages WHERE NOT on_main_branch),
                      (SELECT count(*) FROM messages WHERE kind = 'queued_duplicate'),
                      (SELECT count(DISTINCT source) FROM files)""").fetchone()
    finally:
        con.close()
    with_messages, sessions, links, linked, titled, off_branch, queued_dups, sources = facts
    # The archive exercises each derivation.
    assert with_messages >= 20 and sessions >= with_messages
    assert links >= 2 and linked >= 2 and titled >= 3 and off_branch >= 2 and sources >= 5
    assert len(words) == 12
    ref = state(db, words)
    assert ref["pending"] == [] and ref["fts_stale"] is False and all(ref["hits"].values())
    return {"db": db, "words": words, "state": ref, "files": len(ref["files"])}


def _assert_same(db: Path, clean: dict, what: str) -> None:
    assert_same(state(db, clean["words"]), clean["state"], what)


PHASES = [
    "migrated",                   # the new vault's migrations committed, not checkpointed (WAL replay)
    "in-file-commit",             # inside the first file's transaction: nothing of it may remain
    "file-commit",                # after the first file's commit
    "file-commit#middle",
    "in-file-commit#last",        # inside the last file's transaction
    "file-commit#last",           # every file committed, nothing derived yet
    "files-done",                 # the same, from the derivation step's side
    "in-finish",                  # derived, not committed
    "finish-committed",           # derived and committed, not checkpointed
    "in-fts",                     # the keyword index built but not recorded as built
    "fts-done",                   # all done but the embeddings
]


@pytest.mark.parametrize("phase", PHASES)
def test_kill_at_each_phase_then_rerun_equals_a_clean_run(archive, clean, tmp_path, phase):
    n_files = sum(1 for f in clean["state"]["files"] if f[1] != "unrecognised")  # one commit each
    crash_at = phase.replace("#middle", f"#{n_files // 2}").replace("#last", f"#{n_files}")
    db = tmp_path / "v.duckdb"
    proc = _subprocess(db, archive, crash_at=crash_at)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == FAULT_EXIT, (crash_at, proc.returncode, err.decode()[-2000:])
    rerun = _ingest_in_process(db, archive)
    assert rerun["skipped_lines"] == 0 and not rerun["errors"], rerun
    _assert_same(db, clean, f"a crash at {crash_at}")


def test_kill_twice_in_a_row_then_rerun(archive, clean, tmp_path):
    """The second run is killed too, before it derives what the first left pending."""
    db = tmp_path / "v.duckdb"
    for phase in ("file-commit#3", "files-done"):
        proc = _subprocess(db, archive, crash_at=phase)
        proc.communicate(timeout=120)
        assert proc.returncode == FAULT_EXIT, phase
    _ingest_in_process(db, archive)
    _assert_same(db, clean, "two crashes")


def test_crash_before_deriving_an_incremental_ingest(archive, clean, tmp_path):
    """The vault and its keyword index already hold part of the archive; the run adding the rest is
    killed after its last file commit. The re-run finds every file unchanged, and must still derive
    the new sessions and bring the index up to date (it used to say "files unchanged" and the search
    found none of the new messages)."""
    db = tmp_path / "v.duckdb"
    _ingest_in_process(db, archive / "examples")
    proc = _subprocess(db, archive, crash_at="files-done")
    proc.communicate(timeout=120)
    assert proc.returncode == FAULT_EXIT
    rerun = _ingest_in_process(db, archive)
    assert rerun["files"] == 0 and rerun["messages_added"] == 0, rerun
    _assert_same(db, clean, "a crash in an incremental ingest")


def _random_kills(archive: Path, clean: dict, tmp_path: Path, kills: int, seed: int) -> dict:
    """SIGKILL at a random moment of the vault work (from the file's creation to the process's end), until
    `kills` runs were killed (a run that ends before its moment is checked too; at most 3x `kills` runs:
    on a loaded machine a run may take less time than the probe did)."""
    probe = tmp_path / "probe.duckdb"
    proc = _subprocess(probe, archive)
    while not probe.exists() and proc.poll() is None:
        time.sleep(0.005)
    t0 = time.monotonic()
    proc.communicate(timeout=120)
    span = time.monotonic() - t0

    def start(i: int) -> subprocess.Popen:
        db = tmp_path / f"r{i}.duckdb"
        proc = _subprocess(db, archive)
        while not db.exists() and proc.poll() is None:
            time.sleep(0.005)
        return proc

    def after(i: int) -> None:
        db = tmp_path / f"r{i}.duckdb"
        _ingest_in_process(db, archive)
        _assert_same(db, clean, f"random kill {i} (seed {seed})")
        db.unlink()

    return random_kills(start, after, seed=seed, span=span, kills=kills, tries=3 * kills)


def test_random_kills_then_rerun(archive, clean, tmp_path):
    outcome = _random_kills(archive, clean, tmp_path, kills=3, seed=13)
    assert outcome["killed"] == 3, outcome


@pytest.mark.slow
def test_ten_random_kills_then_rerun(archive, clean, tmp_path):
    outcome = _random_kills(archive, clean, tmp_path, kills=10, seed=int(time.time()))
    assert outcome["killed"] == 10, outcome


def test_old_vault_is_rederived_once_after_the_upgrade(archive, clean, tmp_path, monkeypatch):
    """A vault made stale before this version (no pending record of it) is repaired by the next ingest."""
    from vault.store import connect

    db = tmp_path / "v.duckdb"
    shutil.copy2(clean["db"], db)
    con = connect(db)
    con.execute("UPDATE sessions SET messages = 0, human_messages = 0, started_at = NULL, first_prompt = NULL")
    con.execute("UPDATE messages SET on_main_branch = true "  # forks derived from uuid chains (claude_code)
                "WHERE file_id IN (SELECT file_id FROM files WHERE source = 'claude_code')")
    con.execute("UPDATE tool_calls SET subagent_session_id = NULL")
    forget_migration(con, "m005_pending_derivations")
    con.execute("DROP TABLE pending_sessions")
    con.execute("DROP TABLE pending_files")
    con.close()
    rerun = _ingest_in_process(db, archive)
    assert rerun["files"] == 0  # every file unchanged: only the derivation ran
    _assert_same(db, clean, "an upgrade from a stale vault")


def _embedded(db: Path) -> dict:
    from vault.index import embeddings
    from vault.rawstore import read_raw
    from vault.store import connect

    con = connect(db, read_only=True)
    try:
        return {
            "chunks": sorted(con.execute("SELECT msg_id, chunk_no, content_hash FROM chunks").fetchall()),
            "vectors": sorted(con.execute("SELECT content_hash FROM vectors").fetchall()),
            "up_to_date": embeddings.up_to_date(con),
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def clean_embedded(archive, tmp_path_factory) -> dict:
    """What one uninterrupted run with embeddings leaves (built once for the phases below)."""
    ref = tmp_path_factory.mktemp("clean-embedded") / "v.duckdb"
    assert run_cli("ingest", str(archive), "--json", db=ref)[0] == 0
    want = _embedded(ref)
    assert want["chunks"] and want["up_to_date"]
    return want


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["embed-group", "embed-chunks"])
def test_kill_while_embedding_then_rerun(archive, clean, clean_embedded, tmp_path, phase):
    """The vector index too: killed after a group of vectors (chunks not yet stored), or after the
    chunks (the run not marked complete), the next run completes it as one clean run would."""
    want = clean_embedded
    db = tmp_path / "v.duckdb"
    proc = _subprocess(db, archive, crash_at=phase, embed=True)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == FAULT_EXIT, (phase, err.decode()[-2000:])
    assert _embedded(db) != want  # the crash left it incomplete
    code, _, err = run_cli("ingest", str(archive), "--json", db=db)
    assert code == 0, err
    assert _embedded(db) == want
    _assert_same(db, clean, f"a crash at {phase}")
