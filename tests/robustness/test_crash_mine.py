"""`vault mine` killed (SIGKILL) at a random moment, then run again, leaves what one uninterrupted run leaves.

`vault mine` assigns roles, deletes labels of turns no longer human-side, labels the unlabelled turns in batches
(each in its own transaction) and rebuilds the pairs. The ingest's crash tests (test_crash_consistency and
neighbours) never ran it: here the examples vault is mined with the default backend, once to its end, then copies
are mined and killed at random moments (and once a `--redo` run, which deletes every label before storing new
ones), and the next plain `vault mine` must give the same labels, roles, pairs and `vault turns` output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from crash_runs import TIMEOUT_S, random_kills
from support import run_cli, vault_process


def _state(db: Path) -> dict:
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        state = {
            "labels": con.execute("SELECT msg_id, session_id, label, round(confidence, 9), backend, version, reasons "
                                  "FROM labels ORDER BY msg_id").fetchall(),
            "roles": con.execute("SELECT session_id, role_name, rule FROM roles ORDER BY session_id").fetchall(),
            "pairs": con.execute("SELECT count(*) FROM pairs").fetchone(),
        }
    finally:
        con.close()
    code, out, err = run_cli("turns", "--json", db=db)
    assert code == 0, err
    state["turns"] = out
    code, out, err = run_cli("pairs", "--json", "--no-rebuild", db=db)
    assert code == 0, err
    state["pairs_json"] = out
    return state


def _mine(db: Path, *args: str) -> dict:
    code, out, err = run_cli("mine", "--json", *args, db=db)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def clean(examples_vault, tmp_path_factory) -> dict:
    """The examples vault mined once to its end: its state, and how long the run took (the span of the kills)."""
    db = Path(shutil.copy(examples_vault, tmp_path_factory.mktemp("mine-clean") / "v.duckdb"))
    t0 = time.monotonic()
    proc = vault_process(db, "mine", "--json")
    out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, err.decode()[-2000:]
    state = _state(db)
    assert state["labels"] and state["pairs"][0] > 0  # something to lose
    return {"state": state, "seconds": time.monotonic() - t0}


def _differs(got: dict, want: dict) -> list[str]:
    return [k for k in want if got[k] != want[k]]


def test_mine_killed_at_random_moments_then_rerun_equals_a_clean_run(examples_vault, clean, tmp_path):
    dbs: list[Path] = []

    def start(i: int) -> subprocess.Popen:
        db = Path(shutil.copy(examples_vault, tmp_path / f"k{i}.duckdb"))
        dbs.append(db)
        return vault_process(db, "mine", "--json")

    def after(i: int) -> None:
        _mine(dbs[i])
        assert not _differs(_state(dbs[i]), clean["state"]), f"kill {i}: {_differs(_state(dbs[i]), clean['state'])}"

    outcome = random_kills(start, after, seed=11, span=clean["seconds"], low=0.1, kills=2, tries=4)
    assert outcome["killed"] >= 1, outcome


def test_mine_redo_killed_then_a_plain_run_equals_a_clean_run(examples_vault, clean, tmp_path):
    """A `--redo` deletes every label once the backend has answered, then stores them batch by batch: killed in
    between, the next plain run labels what has no label and nothing is lost for good."""
    db = Path(shutil.copy(examples_vault, tmp_path / "redo.duckdb"))
    _mine(db)
    # The span of the kills is a `--redo` run's own, timed now: the module's clean run labels from scratch and may
    # have run on a busier (or quieter) machine than these runs do (CI: 3 runs all ended before their moment).
    probe = Path(shutil.copy(db, tmp_path / "redo-probe.duckdb"))
    t0 = time.monotonic()
    _mine(probe, "--redo")
    span = time.monotonic() - t0
    dbs: list[Path] = []

    def start(i: int) -> subprocess.Popen:
        copy = Path(shutil.copy(db, tmp_path / f"redo{i}.duckdb"))
        dbs.append(copy)
        return vault_process(copy, "mine", "--redo", "--json")

    def after(i: int) -> None:
        _mine(dbs[i])
        assert not _differs(_state(dbs[i]), clean["state"]), f"kill {i}: {_differs(_state(dbs[i]), clean['state'])}"

    outcome = random_kills(start, after, seed=12, span=span, low=0.3, kills=1, tries=4)
    assert outcome["killed"] >= 1, outcome
