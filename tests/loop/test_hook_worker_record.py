"""The hook's worker (`vault.hooks.worker.work`) checkpoints once, as `vault ingest` does: it deletes the pending rows
an earlier ingest recorded as derived (`vault.unchanged.derived_pending`, asked before it opens the vault), and
leaves those it derived pending, named in the record of the settled vault, for the next ingest to delete."""

from __future__ import annotations

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
