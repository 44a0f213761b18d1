"""The hook's worker (`vault.hooks.worker.work`) checkpoints once, as `vault ingest` does: it deletes the pending rows
an earlier ingest recorded as derived (`vault.unchanged.derived_pending`, asked before it opens the vault), and
leaves those it derived pending, named in the record of the settled vault, for the next ingest to delete."""

from __future__ import annotations

import os

from foundation.test_reingest_pending import (_append_prompt, _archive, _file_id, _ingest, _messages, _pending,
                                               _sessions)
from vault import unchanged
from vault.hooks.pending import add_pending, list_pending
from vault.hooks.worker import work


def _hook(db, path) -> None:
    add_pending(db, [path])
    res = work(db, "Stop")
    assert not res.queued and res.messages_added == 1, res
    assert not list_pending(db)


def test_the_worker_deletes_what_was_recorded_and_records_what_it_derived(tmp_path):
    archive = _archive(tmp_path)
    (a, sid_a), (b, sid_b) = _sessions(archive)
    db = tmp_path / "v.duckdb"
    _ingest(db, archive)
    _append_prompt(a, "one more thing")
    _ingest(db, a)  # recorded: A's rows pending, derived
    assert unchanged.derived_pending(db) == ([sid_a], [_file_id(db, a)]) == _pending(db)
    a_messages = _messages(db, sid_a)
    _append_prompt(b, "and another")
    b_messages = _messages(db, sid_b)
    _hook(db, b)
    # A's rows deleted (not derived again), B's left pending and recorded as derived: the vault settled.
    assert unchanged.derived_pending(db) == ([sid_b], [_file_id(db, b)]) == _pending(db)
    assert unchanged.check(db, [archive], None, embed=False) is not None
    assert _messages(db, sid_a) == a_messages and _messages(db, sid_b) == b_messages + 1
    _append_prompt(b, "the same session again")  # the hook again on the session it left pending
    _hook(db, b)
    assert unchanged.derived_pending(db) == ([sid_b], [_file_id(db, b)]) == _pending(db)
    assert _messages(db, sid_b) == b_messages + 2
    _append_prompt(a, "back to the first")  # and `vault ingest` after the hook: B's rows deleted
    _ingest(db, a)
    assert unchanged.derived_pending(db) == ([sid_a], [_file_id(db, a)]) == _pending(db)
    assert _messages(db, sid_a) == a_messages + 1


def test_the_worker_program_leaves_its_settled_writer_to_the_process_end_and_logs_the_run(tmp_path, monkeypatch):
    """As `vault ingest` does (`vault.cli.common.end_with_process`): once the vault is settled and recorded, the worker
    run as the program does not close its connection (10-30 ms of CPU), writes its run log, and ends at once."""
    import types

    from vault.cli import common
    from vault.cli.hook_run import _work
    from vault.hooks.pending import read_runs

    archive = _archive(tmp_path)
    (a, sid_a), _ = _sessions(archive)
    db = tmp_path / "v.duckdb"
    _ingest(db, archive)
    _append_prompt(a, "one more thing")
    add_pending(db, [a])
    monkeypatch.setattr(common, "whole_process", True)
    monkeypatch.setattr(common, "exit_at_once", False)
    monkeypatch.setattr(common, "_left_open", [])
    root = types.SimpleNamespace(obj=types.SimpleNamespace(flags={"db": ("--db", str(db))}))
    _work(types.SimpleNamespace(find_root=lambda: root), db, "Stop", 0.0)
    try:
        assert common.exit_at_once and len(common._left_open) == 1  # left open: the process ends at once
        assert read_runs(db)["Stop"]["result"] == "1 new message from 1 file"
        assert unchanged.check(db, [archive], None, embed=False) is not None  # settled, recorded
    finally:
        for con in common._left_open:
            con.close()


def test_a_worker_program_that_ended_with_its_writer_open_leaves_the_vault_settled(tmp_path):
    """The real worker process: it ends with the writer open (a kill after the last checkpoint), and the next
    ingest finds the vault as recorded (unchanged: answered from the record) with every message."""
    from support import vault_process
    from vault.hooks.pending import read_runs

    archive = _archive(tmp_path)
    (a, sid_a), _ = _sessions(archive)
    db = tmp_path / "v.duckdb"
    _ingest(db, archive)
    before = _messages(db, sid_a)
    _append_prompt(a, "one more thing")
    add_pending(db, [a])
    proc = vault_process(db, "ingest", "--hook-worker", "Stop")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert read_runs(db)["Stop"]["result"] == "1 new message from 1 file"
    assert not os.path.exists(f"{db}.wal") and not list_pending(db)
    assert unchanged.check(db, [archive], None, embed=False) is not None
    assert _messages(db, sid_a) == before + 1
    rep = _ingest(db, archive)
    assert rep["messages_added"] == 0 and not rep["errors"]
