"""What the crash tests share (test_crash_consistency, test_crash_appends, test_crash_fts_incremental): an ingest
run to its end, a run killed at a random moment, the comparison with an uninterrupted run, and the words and
keyword index state they compare."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from fts_state import index_contents, rankings
from support import run_cli

TIMEOUT_S = 300
PHRASES = ["tests pass", "error"]  # two more queries beside the vault's own words: a phrase and a common word


def ingest(db: Path, path: Path) -> dict:
    """`vault ingest PATH --json --no-embed` in this process; its JSON report (it must succeed)."""
    code, out, err = run_cli("ingest", str(path), "--json", "--no-embed", db=db)
    assert code == 0, err
    return json.loads(out)


def finished(proc: subprocess.Popen) -> dict:
    """The JSON report of a vault process left to end (it must succeed)."""
    out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads(out)


def indexed_words(db: Path, limit: int, max_df: int | None = None) -> list[str]:
    """The keyword index's most frequent terms (at most in `max_df` documents), in a fixed order."""
    from vault.store import connect

    where = f"WHERE df BETWEEN 1 AND {int(max_df)} " if max_df else ""
    con = connect(db, read_only=True)
    try:
        return [r[0] for r in con.execute(
            f"SELECT term FROM fts_main_fts_docs.dict {where}ORDER BY df DESC, term LIMIT {int(limit)}").fetchall()]
    finally:
        con.close()


def index_state(db: Path, queries: list[str]) -> dict:
    """The vault's keyword index: whether it must be rebuilt, what it holds, and how it ranks `queries`."""
    from vault.index import fts
    from vault.store import connect

    con = connect(db, read_only=True)
    try:
        return {"stale": fts.needs_rebuild(con), "index": index_contents(con), "rankings": rankings(con, queries)}
    finally:
        con.close()


def assert_same(got: dict, want: dict, what: str) -> None:
    """Every part of `want` (an uninterrupted run's state) equals `got`'s; the message names those that differ."""
    differ = [key for key, value in want.items() if got[key] != value]
    assert not differ, f"after {what}, then a re-run, these differ from an uninterrupted run: {differ}"


def random_kills(start: Callable[[int], subprocess.Popen], after: Callable[[int], None], *, seed: int, span: float,
                 low: float = 0.0, kills: int, tries: int) -> dict:
    """Up to `tries` runs, each `start(i)`ed then SIGKILLed at a random moment between `low` x `span` and `span`
    seconds (unless it ended before), then `after(i)` (the re-run and the check), until `kills` were killed.
    A run that ends before its moment halves `span`: the probe that measured it may have run on a busier machine
    than the runs do. Returns how many were killed and how many finished first."""
    rng = random.Random(seed)
    outcome = {"killed": 0, "finished": 0}
    for i in range(tries):
        if outcome["killed"] == kills:
            break
        proc = start(i)
        time.sleep(rng.uniform(low * span, span))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT_S)
        killed = proc.returncode == -signal.SIGKILL
        outcome["killed" if killed else "finished"] += 1
        if not killed:
            span /= 2
        after(i)
    return outcome
