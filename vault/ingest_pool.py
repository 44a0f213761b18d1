"""Files parsed in worker processes, handed back in the order they were given (the `ingest.workers` setting).

`ingest.workers` is the number of processes an ingest uses: one writes (DuckDB allows one writer),
the others parse (`vault.ingest_prep.prepare`); with 1, the writing process parses too. The writer
is the busier side (its DuckDB statements take more CPU than parsing), so on two cores one parsing
process keeps it fed. Results come back in order, so the groups committed and every row are the same
whatever the number of processes. At most AHEAD_FILES per worker and AHEAD_BYTES of source are in
flight (enough for the workers to parse on while the writer commits a group): the writer holds little more
than the group it is committing and the next one, whatever the archive's size.
While the writer waits for the next file, it parses the latest file in flight that no worker has started
(a cancelled future): on two cores neither process then waits for the other for long.

Workers are started with `spawn` (a fork would copy the writer's DuckDB threads and locks), only once
POOL_MIN_BYTES are waiting to be parsed: starting them costs more than parsing a few small files. A
worker ends itself when the writing process is gone (killed: nothing may keep its pipes open), and a
pool that breaks (a worker killed) leaves the rest to be parsed in the writing process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from vault.ingest_prep import Failed, Job, Prepared, prepare

if TYPE_CHECKING:
    from concurrent.futures import Future

POOL_MIN_BYTES = 8 << 20  # source bytes waiting before workers start (below: ~0.3 s of parsing, about a start)
# In flight: enough for the parsing processes to keep working while the writer commits a group (a commit of
# `ingest.batch_bytes` = 32 MB of source takes 0.2-3 s; 4 files, 2.7 MB on the 1 GB archive, left the worker
# idle most of that time; with 16 MB the worker still sat idle in a sixth of the samples, during the long commits, and
# the writer parsed what it had not reached: docs/foundation.md), bounded by source bytes so that memory stays flat.
AHEAD_FILES = 128  # files in flight per parsing process
AHEAD_BYTES = 48 << 20  # source bytes in flight at most (and at least one file)
PARENT_POLL_S = 0.2
BROKEN_POLL_S = 0.5  # how often a writer waiting for a worker's result checks that the pool is not broken

T = TypeVar("T")


def prepared(items: Iterable[tuple[T, Job]], workers: int) -> Iterator[tuple[T, Prepared | Failed]]:
    """(item, prepare(job)) for each (item, job), in order; `workers` > 1 parses in `workers` - 1 processes."""
    items = iter(items)
    if workers <= 1:
        yield from ((item, prepare(job)) for item, job in items)
        return
    head: list[tuple[T, Job]] = []
    size = 0
    for item, job in items:
        head.append((item, job))
        size += job.size
        if size >= POOL_MIN_BYTES:
            break
    else:  # too little to be worth starting processes
        yield from ((item, prepare(job)) for item, job in head)
        return
    with arrow_in_c_heap():
        yield from _pooled(head, items, workers - 1)


@contextlib.contextmanager
def arrow_in_c_heap() -> Iterator[None]:
    """While the pool runs, the writer's Arrow buffers (the workers' tables as they arrive, the groups' tables) come
    from malloc, which `vault.ingest.release_freed` trims after each commit, not from mimalloc (pyarrow's default here),
    which kept what a commit freed: 1 GB probe, writer's COMMIT peak 392 -> 348 MB, summed with the worker 504 -> 462
    (docs/foundation.md, tenth session). The default pool is back once the files are read."""
    import pyarrow as pa

    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


def _pooled(head: list, rest: Iterator, workers: int) -> Iterator:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ex = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(os.getpid(),))
    window: deque[tuple[T, Job, Future | Stolen | None]] = deque()
    in_flight = 0

    claimable = _claimable_future_class()

    def submit(job: Job) -> Future | None:
        try:
            with _sigint_blocked():  # a worker started here inherits the block: Ctrl-C is the writer's alone
                fut = ex.submit(prepare, job)
        except BrokenProcessPool:  # a worker died: what is left is parsed here
            return None
        fut.__class__ = claimable  # before `steal` can cancel it (this thread): see _claimable_future_class
        return fut

    def take() -> tuple[T, Prepared | Failed]:
        nonlocal in_flight
        while _waiting(window[0][2]) and steal():
            pass
        item, job, fut = window.popleft()
        in_flight -= job.size
        if isinstance(fut, Stolen):
            return item, fut.result
        if fut is not None:
            res = _outcome(fut, ex)
            if res is not None:
                return item, res
        return item, prepare(job)

    def steal() -> bool:
        """While the next file is still being parsed, parse here the latest one no worker has started."""
        for i in range(len(window) - 1, 0, -1):
            item, job, fut = window[i]
            if fut is not None and not isinstance(fut, Stolen) and fut.cancel():
                window[i] = (item, job, Stolen(prepare(job)))
                return True
        return False

    try:
        for item, job in _chain(head, rest):
            window.append((item, job, submit(job)))
            in_flight += job.size
            while window and (len(window) >= AHEAD_FILES * workers or in_flight >= AHEAD_BYTES):
                yield take()
        while window:
            yield take()
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _claimable_future_class() -> type:
    """A Future a broken pool may fail after the writer cancelled it (took its file: `steal`) without raising.

    When a worker dies, the executor's manager thread fails every pending future (`terminate_broken`); CPython
    before 3.12 (gh-107219) calls `set_exception` on the cancelled ones too, which raises `InvalidStateError` there:
    the thread died with its traceback on stderr, left the futures after that one pending, and never terminated
    the other workers, which `multiprocessing` then joins at exit for ever (`vault ingest` with `ingest.workers` = 3
    and a worker killed mid-ingest: report printed, process still there a minute later in 2 runs of 3). Ignoring the
    call on a cancelled future is what CPython 3.12 does; the check and the call hold the future's lock (an RLock,
    which `cancel` takes too), so a cancel cannot come in between."""
    from concurrent.futures import Future

    class Claimable(Future):
        __slots__ = ()

        def set_exception(self, exception) -> None:
            with self._condition:
                if not self.cancelled():
                    super().set_exception(exception)

    return Claimable


def _outcome(fut: Future, ex) -> Prepared | Failed | None:
    """The result of a worker's parse; None if the pool broke (a worker died: the file is then parsed here).

    The pool is watched while waiting (a guard): should the executor's manager thread end without failing every
    pending future (as CPython 3.11's did at a cancelled one, before `_claimable_future_class`), `fut.result()`
    would wait forever."""
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    while True:
        try:
            return fut.result(timeout=BROKEN_POLL_S)
        except BrokenProcessPool:
            return None
        except FutureTimeout:
            if getattr(ex, "_broken", False):  # (the executor's own flag: no public way to ask)
                return None


def _waiting(fut) -> bool:
    return fut is not None and not isinstance(fut, Stolen) and not fut.done()


class Stolen(NamedTuple):
    """A file the writing process parsed itself while it waited (`_pooled`): the writer is idle then."""

    result: Prepared | Failed


def _chain(head: list, rest: Iterator) -> Iterator:
    yield from head
    yield from rest


# What a parse worker never uses though pyarrow imports it when it is there: pandas (at pyarrow's first array, 46 MB of
# RSS per process), numpy (16 MB: pyarrow builds its arrays from Python lists here without it), dateutil and
# pyarrow.dataset. Kept out for the worker's life (`_start_worker`).
WORKER_UNUSED = ("pandas", "numpy", "dateutil", "pyarrow.dataset")
_kept_out = contextlib.ExitStack()  # (module-level: a context entered and dropped would leave at once, on collection)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread meanwhile (held pending, delivered after): the pool's workers are spawned
    in `submit`, and a process inherits the signal mask through fork and exec, so a worker never takes a Ctrl-C,
    not even while it starts (before `_start_worker`); a worker dying of one printed its traceback, and the
    writer took it for a crash and parsed on alone."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = block(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, old)


def _start_worker(parent: int) -> None:
    """In each worker: keep WORKER_UNUSED out, Arrow's buffers in the C heap, and watch the writing process.

    Arrow's buffers come from malloc (pyarrow's system pool), not mimalloc (its default here): a worker builds and
    frees each file's tables, and mimalloc kept what it freed (300 files parsed in one process: peak RSS 88 MB with
    mimalloc, 68 with the system pool, the same CPU)."""
    from vault.lightquery import unloaded

    # Ctrl-C reaches every process of the terminal's group: the writer stops the pool (`_sigint_blocked`).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _kept_out.enter_context(unloaded(WORKER_UNUSED))
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    _watch_parent(parent)


def _watch_parent(parent: int) -> None:
    """In each worker: end when the writing process is gone (a SIGKILL gives it no chance to stop us)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
