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


def test_a_cursor_that_cannot_be_made_leaves_nothing_open(tui_vault, monkeypatch):
    # `_acquire` opens the shared connection, then makes a cursor of it: when that failed, the connection stayed
    # open with no user until the next action, and another writer (an ingest) could not open the vault meanwhile.
    import duckdb
    import pytest

    import tui.access
    from vault.errors import VaultError

    access = VaultAccess(tui_vault)
    real_cursor_of = tui.access.cursor_of

    def failing_cursor_of(con):
        raise duckdb.IOException("simulated: no cursor")

    monkeypatch.setattr(tui.access, "cursor_of", failing_cursor_of)
    for action in (access.read, access.write):
        with pytest.raises(duckdb.IOException, match="simulated"):
            with action():
                pass
        open_vault(tui_vault).close()  # nothing of the app's holds the file
    # A failure while another read holds the connection leaves it to that read, which closes it when done.
    monkeypatch.setattr(tui.access, "cursor_of", real_cursor_of)
    with access.read() as con:
        monkeypatch.setattr(tui.access, "cursor_of", failing_cursor_of)
        with pytest.raises(duckdb.IOException, match="simulated"):
            with access.read():
                pass
        assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] > 0
        with pytest.raises(VaultError, match="already attached"):  # still held by the read in progress
            open_vault(tui_vault)
        monkeypatch.setattr(tui.access, "cursor_of", real_cursor_of)
    open_vault(tui_vault).close()
    with access.write() as con:  # the count of users is right: a write is not kept waiting
        con.execute("CREATE TABLE IF NOT EXISTS scratch AS SELECT 1 AS a")
    assert access.mode == READ_WRITE


def test_a_half_made_cursor_is_closed():
    # `cursor_of` makes the cursor, then sets it up: a failure in the setup closed nothing (the cursor waited for
    # the garbage collector). Here the setup's USE names a catalog that does not exist.
    import duckdb
    import pytest

    from vault.connection import cursor_of

    real = duckdb.connect()
    made: list[duckdb.DuckDBPyConnection] = []

    class Lying:
        def execute(self, sql):
            return real.execute("SELECT 'no_such_catalog'" if sql == "SELECT current_database()" else sql)

        def cursor(self):
            made.append(real.cursor())
            return made[-1]

    with pytest.raises(duckdb.Error, match="no_such_catalog"):
        cursor_of(Lying())
    [cur] = made
    with pytest.raises(duckdb.ConnectionException, match="closed"):
        cur.execute("SELECT 1")
    real.close()
