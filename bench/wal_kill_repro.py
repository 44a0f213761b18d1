"""Kill `vault ingest` with SIGKILL many times and count the vaults that DuckDB cannot open again (issue 13).

Each round starts a fresh ingest of a small archive (the examples plus the test fixtures, as
tests/robustness/test_crash_consistency.py does), kills it at a moment spread over the run's span
(`--sweep`: evenly, else at random), then opens the vault as the next run would and records
DuckDB's error, if any: once directly (as `vault.store.connect` did before the fix for issue 13)
and once with `open_vault` (as the next run does now). A vault that `open_vault` cannot open is
kept with its WAL under `--keep` for inspection.

    nice -n 10 .venv/bin/python bench/wal_kill_repro.py --rounds 60 [--sweep] [--keep /tmp/walfail]
    nice -n 10 .venv/bin/python bench/wal_kill_repro.py --statements after|in [--stride 5 --dense 80]

`--statements` kills at statement granularity instead of wall-clock time: after (or a random
0-50 ms into) the n-th statement the ingest runs on the vault file, for every n (or every
`--stride`-th, and each of the first and last `--dense`): each phase boundary, each migration,
the CHECKPOINTs, the FTS build.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
# the archive of tests/robustness/test_crash_consistency.py; the environment of a `vault` process run by the tests
from _common import fresh_vault  # noqa: E402  (bench/ is first on the path of a bench run as a script)
from support import VAULT, copy_mixed_archive, vault_env  # noqa: E402

ENV = vault_env({"VAULT_INGEST_BATCH_BYTES": "1"})  # offline, this tree's code, one commit per file


# `vault ingest` whose statements on the vault file are counted; with KILL_AT_STATEMENT=n it dies as
# under kill -9 after the n-th (KILL_MODE=after) or a moment into it (KILL_MODE=in, KILL_DELAY seconds).
STATEMENT_KILLER = """
import atexit, os, sys, threading
import vault.store as store
n, mode, delay = int(os.environ.get("KILL_AT_STATEMENT", "0")), os.environ.get("KILL_MODE", "after"), \\
    float(os.environ.get("KILL_DELAY", "0.005"))
count = 0
# connect's module (vault.connection; vault.store before the split), where the file opens look it up
home = sys.modules[store.connect.__module__]
real = home.connect

class Counted:
    def __init__(self, con):
        object.__setattr__(self, "_con", con)
    def __getattr__(self, name):
        return getattr(self._con, name)
    def _run(self, method, *args, **kwargs):
        global count
        count += 1
        if count == n and mode == "in":
            threading.Timer(delay, os._exit, [137]).start()
        out = getattr(self._con, method)(*args, **kwargs)
        if count == n and mode == "after":
            os._exit(137)
        return out
    def execute(self, *args, **kwargs):
        return self._run("execute", *args, **kwargs)
    def executemany(self, *args, **kwargs):
        return self._run("executemany", *args, **kwargs)

def connect(path=":memory:", **kwargs):
    con = real(path, **kwargs)
    if str(path) == ":memory:":
        return con
    # DuckDB finds a query's Python objects (vault.bulk's `_arrow_rows`) in its caller's frame, which is now
    # Counted._run: let it look further up, to the code that named them.
    con.execute("SET python_scan_all_frames = true")
    return Counted(con)

home.connect = connect
if os.environ.get("COUNT_FILE"):
    atexit.register(lambda: open(os.environ["COUNT_FILE"], "w").write(str(count)))
from vault.cli import main
main()
"""


def start(db: Path, archive: Path, crash_at: str | None = None, statement: dict | None = None) -> subprocess.Popen:
    env = dict(ENV)
    if crash_at:
        env["VAULT_CRASH_AT"] = crash_at
    env.update(statement or {})
    vault = [sys.executable, "-c", STATEMENT_KILLER] if statement is not None else VAULT
    return subprocess.Popen([*vault, "--db", str(db), "ingest", str(archive), "--json", "--no-embed"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def wait_for(db: Path, proc: subprocess.Popen) -> None:
    while not db.exists() and proc.poll() is None:
        time.sleep(0.002)


OPENERS = {
    # What the next run does: `vault.store.open_vault` (with its WAL replay through ATTACH).
    "vault": "from vault.store import open_vault as op",
    # A plain direct open, as `vault.store.connect` did before the fix: the "before" figure, on the same kill.
    "plain": "import duckdb, functools; op = functools.partial(duckdb.connect, "
             "config={'autoinstall_known_extensions': False, 'autoload_known_extensions': False})",
}


def reopen_error(db: Path, opener: str) -> str | None:
    """The error on opening the vault with `opener` (None: it opened); in a child process, so that a
    crash of DuckDB itself is counted too. "plain" opens a copy (its open may replay the WAL)."""
    if opener == "plain":
        side = db.with_name(f"plain-{db.name}")
        for f in (db, Path(f"{db}.wal")):
            if f.exists():
                shutil.copy2(f, side.with_name(f"plain-{f.name}"))
        db = side
    code = (f"import sys; {OPENERS[opener]}\n"
            "try:\n    op(sys.argv[1]).close()\n"
            "except Exception as e:\n    print(type(e).__name__ + ': ' + str(e).splitlines()[0]); sys.exit(1)")
    res = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, env=ENV)
    if opener == "plain":
        fresh_vault(db)
    return None if res.returncode == 0 else (res.stdout.strip() or res.stderr.strip()[-300:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--sweep", action="store_true", help="kill times evenly spread over the span")
    ap.add_argument("--crash-at", help="a named crash point (vault.faults) instead of a SIGKILL")
    ap.add_argument("--statements", choices=["after", "in"],
                    help="kill after (or a moment into) statement 1, 1+stride, ... of the ingest on the vault file")
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--dense", type=int, default=0, help="with --stride: every one of the first and last N statements")
    ap.add_argument("--keep", type=Path, help="copy each vault that does not open (with its WAL) here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="walkill-"))
    try:
        archive = copy_mixed_archive(tmp / "archive")
        probe = tmp / "probe.duckdb"
        proc = start(probe, archive)
        wait_for(probe, proc)
        t0 = time.monotonic()
        proc.communicate(timeout=300)
        span = time.monotonic() - t0
        print(f"span of one ingest (vault file created -> exit): {span:.2f} s")
        if args.statements:
            count_file = tmp / "count"
            proc = start(tmp / "count.duckdb", archive, statement={"COUNT_FILE": str(count_file)})
            _, err = proc.communicate(timeout=300)
            if proc.returncode != 0:  # counted up to where it failed: the kills would miss the rest
                raise SystemExit(f"the counted ingest failed (exit {proc.returncode}): {err.decode()[-500:]}")
            total = int(count_file.read_text())
            ends = set(range(1, args.dense + 1)) | set(range(total - args.dense + 1, total + 1))
            targets = sorted(ends | set(range(1, total + 1, args.stride)))
            args.rounds = len(targets)
            print(f"statements on the vault file in one ingest: {total}; killing at {len(targets)} of them "
                  f"({args.statements})")
        outcome: Counter = Counter()
        errors: Counter = Counter()
        plain_failed = 0
        for i in range(args.rounds):
            db = tmp / f"r{i}.duckdb"
            statement = ({"KILL_AT_STATEMENT": str(targets[i]), "KILL_MODE": args.statements,
                          "KILL_DELAY": f"{rng.uniform(0, 0.05):.4f}"} if args.statements else None)
            proc = start(db, archive, args.crash_at, statement)
            delay = None
            if not args.crash_at and not args.statements:
                wait_for(db, proc)
                delay = span * (i + 0.5) / args.rounds if args.sweep else rng.uniform(0, span)
                time.sleep(delay)
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=300)
            killed = proc.returncode in (-signal.SIGKILL, 137)
            outcome["killed" if killed else "finished"] += 1
            wal = Path(f"{db}.wal")
            wal_size = wal.stat().st_size if wal.exists() else 0
            plain = reopen_error(db, "plain")
            plain_failed += plain is not None
            err = reopen_error(db, "vault")
            at = (f"{delay:.3f}s" if delay is not None else
                  f"statement {targets[i]} ({args.statements})" if args.statements else args.crash_at)
            if plain and not err:
                print(f"round {i}: killed at {at}, WAL {wal_size} B -> a direct open fails ({plain[:160]}); "
                      "open_vault opens it")
            if err:
                errors[err.split(":", 1)[0] + ": " + err[-90:]] += 1
                print(f"round {i}: killed at {at}, WAL {wal_size} B -> does not open: {err[:300]}")
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    for f in (db, wal):
                        if f.exists():
                            shutil.copy2(f, args.keep / f"r{i}-{f.name}")
            elif os.environ.get("VERBOSE"):
                print(f"round {i}: killed at {at}, WAL {wal_size} B -> opens")
            fresh_vault(db)
        failed = sum(errors.values())
        print(f"rounds {args.rounds}: killed {outcome['killed']}, finished {outcome['finished']}; "
              f"a direct DuckDB open (before the fix) fails after {plain_failed}, "
              f"open_vault fails after {failed}")
        for e, n in errors.most_common():
            print(f"  {n} x {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
