"""The writing process parses files itself while it waits for a worker (`vault.ingest_pool`), and the rows
are the same as with one process."""

from __future__ import annotations

from test_ingest_workers import _ingest, archive  # noqa: F401 (archive: a fixture)
from vault_tables import vault_tables as tables
from vault import ingest_pool


def test_writer_parses_while_it_waits_same_rows(archive, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(ingest_pool, "POOL_MIN_BYTES", 0)
    stolen = []

    class Counted(ingest_pool.Stolen):
        __slots__ = ()

        def __new__(cls, result):
            stolen.append(result)
            return super().__new__(cls, result)

    monkeypatch.setattr(ingest_pool, "Stolen", Counted)
    two = _ingest(tmp_path / "two.duckdb", [archive], workers=2)
    # the worker's start alone (a new interpreter) leaves the writer waiting for the first file
    assert stolen
    one = _ingest(tmp_path / "one.duckdb", [archive], workers=1)
    assert two.as_contract() == one.as_contract()
    assert tables(tmp_path / "two.duckdb") == tables(tmp_path / "one.duckdb")


def _nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def test_a_result_waited_for_when_a_worker_dies_after_a_steal_is_given_up():
    """A worker killed while a cancelled future (a file the writer took) is pending: CPython 3.11's executor stops
    marking the futures broken at the cancelled one, so a later one is never completed. `_outcome` gives up on it
    (None: the writer parses the file) instead of waiting forever."""
    import multiprocessing
    import os
    import signal
    import time
    from concurrent.futures import ProcessPoolExecutor

    ex = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        futs = [ex.submit(_nap, 60 if i == 0 else 0) for i in range(8)]
        deadline = time.monotonic() + 60
        while not futs[0].running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert futs[0].running() and futs[6].cancel()  # queued behind the first: the writer took it
        for pid in list(ex._processes):
            os.kill(pid, signal.SIGKILL)
        t = time.monotonic()
        assert ingest_pool._outcome(futs[7], ex) is None
        assert ingest_pool._outcome(futs[1], ex) is None
        assert time.monotonic() - t < 30
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _prepare_and_list_modules(job):
    import sys

    from vault.ingest_prep import Prepared, prepare

    return isinstance(prepare(job), Prepared), sorted(m for m in ingest_pool.WORKER_UNUSED if m in sys.modules)


def test_a_worker_keeps_pandas_and_numpy_unloaded_for_its_life():
    """A parse worker never loads what it does not use (pandas alone was 46 MB of RSS per worker). The blocker was
    once a context entered and dropped at once, so it left on collection and every worker loaded pandas."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor
    from pathlib import Path

    from vault.ingest_prep import Job
    from vault.sources import detect_parser, read_head

    path = sorted((Path(__file__).parents[1] / "fixtures" / "claude_code").rglob("*.jsonl"))[0]
    job = Job(detect_parser(path, read_head(path)), path, 0, 0, 64, path.stat().st_size)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=ingest_pool._start_worker, initargs=(os.getpid(),)) as ex:
        assert ex.submit(_prepare_and_list_modules, job).result(timeout=120) == (True, [])
        assert ex.submit(_prepare_and_list_modules, job).result(timeout=120) == (True, [])
