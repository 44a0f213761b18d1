"""What several benches share, written once: the `vault` program as a child process, a child process measured
(wall, CPU and peak memory), a vault file removed to be made again, another source tree's `vault` package put first on a child's path, a vault opened for a
bench (one line, not a traceback, when it needs migrating), the miner benches' environment, and a pickle cache
keyed by the content it was built from.

A bench script runs with `bench/` first on its path (`python bench/x.py`), so `from _common import ...` finds this
file. It imports nothing heavy at module level: a bench may still set thread variables before numpy loads.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MB = 2 ** 20
SAMPLE_S = 0.2  # between two samples of a process tree's memory

# The `vault` program in a process of its own, as its console script runs it, in this interpreter: not an installed
# `vault` command, which in a shared virtualenv is another checkout's. The child imports the `vault` first on its
# path: the cwd's, PYTHONPATH's, or a tree's put first by `src_env(tree)` (the tests' `support.VAULT` is this one, and
# `support.vault_env` is `src_env` of the checkout). A tree older than 6c4ec01 has no vault/cli/__main__.py: run it
# with `-c "from vault.cli import main; main()"`.
VAULT = [sys.executable, "-m", "vault.cli"]


def fresh_vault(db: Path) -> Path:
    """`db` with the vault file there and its WAL removed, for a bench to make it again; returns `db`."""
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    return db


def tree_ab_args(ap) -> None:
    """The A/B options of a bench that runs one child per source tree on copies of one vault."""
    ap.add_argument("--tree", action="append", required=True, help="a source tree (repeat); the first is the baseline")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--work", type=Path, default=None, help="where the copies go (default: beside --vault)")


def vault_copies(vault: Path, trees: list[str], rounds: int, work: Path | None, name: str):
    """(round, tree, a fresh copy of `vault` named `name`) for each round, the trees interleaved; each copy is
    removed once the caller has measured it."""
    import shutil

    for r in range(rounds):
        for tree in trees:
            db = fresh_vault((work or vault.parent) / name)
            shutil.copyfile(vault, db)
            yield r, tree, db
            fresh_vault(db)


def mb(n: float) -> float:
    """`n` bytes in MiB, to a tenth."""
    return round(n / MB, 1)


class TreeMemory(threading.Thread):
    """Peak of the summed RSS and PSS of a process and its descendants, sampled."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.rss, self.pss, self.stop = pid, 0, 0, threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop.is_set():
            rss = pss = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for p in procs:
                try:
                    m = p.memory_full_info()
                    rss, pss = rss + m.rss, pss + m.pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            time.sleep(SAMPLE_S)


@dataclass
class Measured:
    """One child process, run to its end."""

    code: int  # its exit code (negative: the signal that ended it)
    out: bytes  # its stdout
    err: bytes  # its stderr when captured, else b""
    wall_s: float
    cpu_s: float  # user + system of it and of the children it waited for (its parse workers), from wait4
    peak_rss_mb: int  # its own peak RSS (wait4): at least `parent_rss_mb`
    tree_rss_mb: int  # the peak of the RSS summed over it and its descendants, sampled
    tree_pss_mb: int  # the same in PSS, which shares library pages out instead of counting them in each process
    parent_rss_mb: int = 0  # this process's RSS when it started the child: the floor of `peak_rss_mb`


def reset_peak_rss() -> int:
    """This process's RSS (MB), its peak RSS reset to it (Linux's /proc/self/clear_refs; elsewhere nothing is reset).

    Linux hands a parent's peak RSS to the child it starts (at exec), so a child's peak from wait4 is at least the
    parent's peak so far: a bench that grew in-process (a vault's blocks cached, a model loaded) read its own peak as
    its children's (the scale bench's 5 GB `vault embed`: 6,246 MB, where the command alone peaks at 2,647 MB). Reset,
    the floor is the parent's RSS at the start, reported beside the peak."""
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) // 1024
    except (OSError, StopIteration, ValueError):
        return 0


def measured(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
             capture_err: bool = False, tree: bool = True,
             watch: Callable[[subprocess.Popen], None] | None = None) -> Measured:
    """Run `cmd` with its stdout captured (and its stderr, `capture_err`; else it goes to this process's), the
    memory of its process tree sampled (`tree`; else the tree figures are 0), and `watch(proc)` in a thread of
    its own while it runs (e.g. to kill it past a limit).

    CPU and the process's own peak come from wait4, which must reap the child itself: stderr goes to a temporary
    file rather than a second pipe, so that neither pipe can fill while the other is read. This process's peak RSS is
    reset first (`reset_peak_rss`), else the child's peak would be at least this process's peak so far."""
    with tempfile.TemporaryFile() if capture_err else contextlib.nullcontext() as err_file:
        parent = reset_peak_rss()
        t = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=err_file,
                                env=None if env is None else dict(env), cwd=None if cwd is None else str(cwd))
        mem = TreeMemory(proc.pid)
        if tree:
            mem.start()
        if watch is not None:
            threading.Thread(target=watch, args=(proc,), daemon=True).start()
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        proc.stdout.close()
        mem.stop.set()
        if tree:
            mem.join()
        err = b""
        if capture_err:
            err_file.seek(0)
            err = err_file.read()
    return Measured(code=proc.returncode, out=out, err=err, wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
                    peak_rss_mb=usage.ru_maxrss // 1024, tree_rss_mb=mem.rss // MB, tree_pss_mb=mem.pss // MB,
                    parent_rss_mb=parent)


def src_env(src: str | Path | None, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str] | None:
    """The environment of a child that runs the source tree `src`: `base` (default: this process's) with `src` first on
    PYTHONPATH (the child and its workers then import that tree's `vault`, not what a shared virtualenv's editable
    install points at), plus `extra`; None (inherit) when there is none of the three. The one way a test
    (`tests/support.vault_env`) or a bench puts a tree first. No empty entry is left on the path (one would put the
    child's cwd on it)."""
    if src is None and base is None and not extra:
        return None
    env = {**(os.environ if base is None else base), **extra}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
    return env


def open_bench_vault(path: str | Path, *, read_only: bool = True):
    """The vault at `path` opened as `vault.store.open_vault` opens it (read-only by default: a bench times, it does
    not upgrade); a vault that needs migrating, or any other vault error, ends the bench with its one line (the
    migration's: "run `vault migrate` on PATH") rather than a traceback."""
    from vault.store import VaultError, VaultNeedsMigrationError, open_vault

    try:
        return open_vault(path, read_only=read_only)
    except VaultNeedsMigrationError:
        raise SystemExit(f"the vault {path} was written by an older version: run `vault migrate` on it "
                         f"(`vault --db {path} migrate`; it keeps a backup copy), or bench a copy") from None
    except VaultError as e:
        raise SystemExit(f"{path}: {e}") from None


def offline_one_thread(*, tokenizers: bool = False) -> None:
    """The miner benches' environment, set before numpy or torch loads: no model download, and one BLAS thread
    (the cross-validation is thousands of small fits; on a shared machine threads only contend: the refit took
    12 s with one thread, 5 min with the default under load 12). `tokenizers`: no tokenizer threads either."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if tokenizers:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def content_key(files: Sequence[Path]) -> str:
    """A key that changes when any of `files` (names and bytes) does."""
    import hashlib

    return hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in files)).hexdigest()


def cached(path: str | Path | None, key: str, build: Callable[[], Any]) -> Any:
    """`build()`, kept in the pickle `path` between runs and read back while its key is still `key` (None: no
    cache). The file is this machine's own: it is loaded with pickle, so it must never come from elsewhere."""
    if path is not None and Path(path).exists():
        with open(path, "rb") as f:
            got = pickle.load(f)
        if isinstance(got, dict) and got.get("key") == key:
            return got["data"]
    data = build()
    if path is not None:
        with open(path, "wb") as f:
            pickle.dump({"key": key, "data": data}, f)
    return data
