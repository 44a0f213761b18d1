"""The TUI's way to the vault (`tui.access.VaultAccess`) from several threads at once: a search runs in a thread of
its own while a screen reads or a review writes in the app's."""

from __future__ import annotations

import threading

from tui.access import READ_WRITE, VaultAccess
from vault.store import open_vault


def test_reads_and_writes_from_several_threads_at_once(tui_vault):
    # Each thread opening the vault for writing by itself: DuckDB 1.5 attaches a file once per process, and the
    # second open failed ("Unique file handle conflict", 25 of 60 opens from two threads; two TUI tests failed so
    # on a loaded machine). Now one connection is shared while in use, a cursor each.
    access = VaultAccess(tui_vault)
    assert access.mode == READ_WRITE
    errors: list[BaseException] = []
    done = [0, 0, 0]
    start = threading.Barrier(3)

    def work(k: int) -> None:
        start.wait()
        for i in range(40):
            try:
                if k == 2 and i % 4 == 0:
                    with access.write() as con:
                        con.execute("CREATE TEMP TABLE IF NOT EXISTS t AS SELECT 1 AS a")
                with access.read() as con:
                    n = con.execute("SELECT count(*) FROM sessions").fetchone()[0]
                assert n > 0
                done[k] += 1
            except BaseException as e:  # noqa: BLE001 - every failure is reported below
                errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert done == [40, 40, 40]
    assert access.mode == READ_WRITE
    # Between actions the app holds nothing: another writer (an ingest) can open the vault.
    open_vault(tui_vault).close()


def test_a_write_waits_for_the_reads_in_progress_and_checkpoints(tui_vault):
    # The keyword index build checkpoints, which an open transaction of another cursor refuses ("Cannot CHECKPOINT:
    # there are other write transactions active"): a write has the connection to itself.
    import pytest

    access = VaultAccess(tui_vault)
    events: list[str] = []
    reading = threading.Event()

    def writer() -> None:
        reading.wait()
        with access.write() as con:
            events.append("write")
            con.execute("CREATE TABLE IF NOT EXISTS scratch AS SELECT 1 AS a")
            con.execute("CHECKPOINT")

    t = threading.Thread(target=writer)
    t.start()
    with access.read() as con:
        reading.set()
        t.join(0.5)  # the writer waits meanwhile
        events.append("read")
        assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] > 0
        with pytest.raises(RuntimeError, match="inside a read"):
            with access.write():
                pass
    t.join(30)
    assert events == ["read", "write"]
    with access.read() as con:
        assert con.execute("SELECT a FROM scratch").fetchall() == [(1,)]
