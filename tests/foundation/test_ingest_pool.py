"""The writing process parses files itself while it waits for a worker (`vault.ingest_pool`), and the rows
are the same as with one process."""

from __future__ import annotations

from typing import NamedTuple

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


def test_a_result_waited_for_when_a_worker_dies_after_a_steal_is_given_up(monkeypatch):
    """A worker killed while a cancelled future (a file the writer took) is pending, in a plain executor (not the
    pool's futures, `_claimable_future_class`): CPython 3.11's manager thread dies at the cancelled one
    (`InvalidStateError`, caught here: it is the executor's, expected), so a later one is never completed.
    `_outcome` gives up on it (None: the writer parses the file) instead of waiting forever."""
    import multiprocessing
    import os
    import signal
    import threading
    import time
    from concurrent.futures import InvalidStateError, ProcessPoolExecutor

    crashed = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashed.append(args.exc_value))

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
    assert all(isinstance(e, InvalidStateError) for e in crashed), crashed


class _Job(NamedTuple):
    """A stand-in for `vault.ingest_prep.Job` (`_parse_or_wait`): `_pooled` reads only its size."""

    name: int
    size: int
    writer: int  # the test's process id
    marks: str  # a folder where each parse leaves a mark


def _parse_or_wait(job: _Job):
    """`prepare` for `_Job`s. In a worker, files 0 and 1 take two minutes (both workers stay busy, so the files
    the writer takes stay cancelled in the pool's queue). In the writer, the first file it takes waits until both
    workers have started theirs (else it could take them all before the pool hands any out)."""
    import os
    import time
    from pathlib import Path

    marks = Path(job.marks)
    where = "writer" if os.getpid() == job.writer else "worker"
    (marks / f"{where}.{job.name}.{os.getpid()}").touch()
    if where == "worker" and job.name < 2:
        time.sleep(120)
    if where == "writer" and job.name >= 2:
        deadline = time.monotonic() + 120
        while len(list(marks.glob("worker.[01].*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    return job.name, where


def test_a_worker_killed_after_a_steal_ends_the_others_and_loses_no_file(tmp_path, monkeypatch):
    """Two parse workers busy, files the writer took (cancelled futures) queued behind them, then one worker
    killed: every file still comes back in order (the broken ones parsed in the writer), the executor's thread
    does not die (it did, `InvalidStateError` on a cancelled future: CPython < 3.12), and the other worker is ended
    (it was not: `vault ingest` then hung at exit, as `multiprocessing` joins its workers)."""
    import os
    import signal
    import threading
    import time

    import concurrent.futures

    crashed = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashed.append(repr(args.exc_value)))
    pools = []

    class Seen(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Seen)
    monkeypatch.setattr(ingest_pool, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(ingest_pool, "prepare", _parse_or_wait)
    jobs = [(i, _Job(i, 1, os.getpid(), str(tmp_path))) for i in range(10)]

    def pid_of(name: int) -> int | None:
        found = list(tmp_path.glob(f"worker.{name}.*"))
        return int(found[0].name.rsplit(".", 1)[1]) if found else None

    def kill_after_steals() -> None:  # both workers busy, and the writer has taken files queued behind them
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (pid_of(0) and pid_of(1) and list(tmp_path.glob("writer.*"))):
            time.sleep(0.02)
        if pid_of(0):
            cancelled.extend(w for w in list(pools[0]._pending_work_items.values()) if w.future.cancelled())
            os.kill(pid_of(0), signal.SIGKILL)

    cancelled = []

    killer = threading.Thread(target=kill_after_steals)
    killer.start()
    try:
        out = list(ingest_pool.prepared(jobs, workers=3))
    finally:
        killer.join()
        workers = [pid for name in (0, 1) if (pid := pid_of(name))]
        survivors = []
        for pid in workers:  # ended (and reaped) by the pool, or by this test so that nothing is left behind
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            survivors.append(pid)
            os.kill(pid, signal.SIGKILL)
    assert len(workers) == 2 and cancelled  # (the scene: both workers on their long file, taken files queued)
    assert [name for name, _ in out] == list(range(10)) and [r[0] for _, r in out] == list(range(10))
    assert out[0][1] == (0, "writer")  # the killed worker's file, parsed again here
    assert survivors == []
    assert crashed == []


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
