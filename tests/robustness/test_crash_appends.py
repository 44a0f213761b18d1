"""Crash at any moment of an appending ingest, consistent after the next run.

The code added for small changes to a vault that holds data runs only there: the writer attached with small row
groups (`vault.store.APPEND_ROW_GROUP`), the key indexes checking every id (`vault.ingest`, not the cold start's
`vault.ingest_keys`), the keyword index updated by rowid (`vault.index.fts_build.refresh`). Here the vault holds the
first half of each session file of a mixed archive; then the files grow by their second half, one file is
rewritten (read again whole: its rows replaced) and the run that reads it all is killed at each named phase
(`vault.faults`) or by SIGKILL at a random moment. The next run must leave what one uninterrupted run leaves:
every table, nothing pending, the same keyword index and rankings.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from crash_runs import PHRASES, assert_same, finished, index_state, indexed_words, ingest, random_kills
from support import ONE_COMMIT_PER_FILE, copy_mixed_archive, vault_process
from vault.faults import EXIT_CODE as FAULT_EXIT
from vault_tables import vault_tables


class Archive:
    """A mixed archive whose JSONL files are put back in their first state (`first`) or grown (`second`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.full: dict[Path, bytes] = {}
        self.half: dict[Path, bytes] = {}
        for p in sorted(root.rglob("*.jsonl")):
            lines = p.read_bytes().splitlines(keepends=True)
            if len(lines) >= 4 and lines[-1].endswith(b"\n"):
                self.full[p] = b"".join(lines)
                self.half[p] = b"".join(lines[: len(lines) // 2])
        claude = [p for p in self.full if "examples" in p.parts]
        self.rewritten = claude[0]  # its second state swaps two early lines: read again whole, rows replaced
        lines = self.full[self.rewritten].splitlines(keepends=True)
        self.full[self.rewritten] = b"".join([lines[1], lines[0], *lines[2:]])
        assert len(self.full) >= 10

    # Each state's files get the same modification time in every test: the vault stores it (`files.mtime`).
    FIRST_MTIME, SECOND_MTIME = 1_767_225_600, 1_767_229_200

    def first(self) -> None:
        for p, data in self.half.items():
            p.write_bytes(data)
            os.utime(p, (self.FIRST_MTIME, self.FIRST_MTIME))

    def second(self) -> None:
        for p, data in self.full.items():
            p.write_bytes(data)  # the same first half: an append, but for the rewritten file
            os.utime(p, (self.SECOND_MTIME, self.SECOND_MTIME))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Archive:
    return Archive(copy_mixed_archive(tmp_path_factory.mktemp("archive")))


def _first_part(db: Path, archive: Archive) -> None:
    archive.first()
    ingest(db, archive.root)
    archive.second()


def _appending(db: Path, archive: Archive, crash_at: str | None = None):
    return vault_process(db, "ingest", str(archive.root), "--json", "--no-embed", crash_at=crash_at,
                         env=ONE_COMMIT_PER_FILE)


def _state(db: Path, words: list[str]) -> dict:
    out = vault_tables(db, raw_slices=False, seq="session", text_md5=True, derived=True, words=words)
    return {**out, **index_state(db, [*words[:6], *PHRASES])}


@pytest.fixture(scope="module")
def clean(archive, tmp_path_factory) -> dict:
    """One uninterrupted appending run after the first part: the reference."""
    db = tmp_path_factory.mktemp("clean") / "v.duckdb"
    _first_part(db, archive)
    rep = finished(_appending(db, archive))
    assert rep["files"] == len(archive.full) and "fts_added" in rep["index"], rep  # appended, index updated in place
    words = indexed_words(db, 12, max_df=6)
    state = _state(db, words)
    assert state["pending"] == [] and state["stale"] is False and all(state["hits"].values())
    return {"words": words, "state": state, "changed": rep["files"]}


def _assert_same(db: Path, clean: dict, what: str) -> None:
    assert_same(_state(db, clean["words"]), clean["state"], what)


PHASES = [
    "replaced-rows-deleted",  # the rewritten file's old rows deleted, its new ones not yet written
    "in-file-commit",         # inside the first changed file's transaction
    "file-commit",            # the first changed file committed
    "file-commit#middle",
    "file-commit#last",       # every change committed, nothing derived
    "in-finish",              # derived, not committed
    # These two lost a subagent link once the vault file was in storage format v1.5 (DuckDB 1.5.5's WAL replay): what
    # `finish` derived stays pending until a checkpoint has written it (`Ingester.forget_derived`).
    "finish-committed",       # derived and committed, the keyword index not yet updated
    "in-fts",                 # the keyword index updated, not committed
    "fts-done",
    # Checkpointed; the rows `finish` derived left pending, not yet named in the record (`vault.unchanged.record`): the
    # next run derives them again. Then recorded, not closed: as the `vault` program ends (`end_with_process`).
    "derived-kept",
    "recorded",
]


@pytest.mark.parametrize("phase", PHASES)
def test_an_appending_ingest_killed_at_each_phase_then_rerun(archive, clean, tmp_path, phase):
    crash_at = phase.replace("#middle", f"#{clean['changed'] // 2}").replace("#last", f"#{clean['changed']}")
    db = tmp_path / "v.duckdb"
    _first_part(db, archive)
    proc = _appending(db, archive, crash_at)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == FAULT_EXIT, (crash_at, proc.returncode, err.decode()[-2000:])
    rerun = ingest(db, archive.root)
    assert rerun["skipped_lines"] == 0 and not rerun["errors"], rerun
    _assert_same(db, clean, f"a crash at {crash_at}")


def test_random_kills_of_an_appending_ingest_then_rerun(archive, clean, tmp_path):
    probe = tmp_path / "probe.duckdb"
    _first_part(probe, archive)
    t0 = time.monotonic()
    _appending(probe, archive).communicate(timeout=300)
    span = time.monotonic() - t0

    def start(i: int):
        _first_part(tmp_path / f"r{i}.duckdb", archive)
        return _appending(tmp_path / f"r{i}.duckdb", archive)

    def after(i: int) -> None:
        ingest(tmp_path / f"r{i}.duckdb", archive.root)
        _assert_same(tmp_path / f"r{i}.duckdb", clean, f"random kill {i}")

    # Killed from the first fifth of the probe's time on (the first fifth: the interpreter starting).
    outcome = random_kills(start, after, seed=19, span=span, low=0.2, kills=3, tries=6)
    assert outcome["killed"] >= 1
