"""bench/_common.py, the helpers the benches share: a measured child process, another tree first on a child's path,
the miner benches' environment, the keyed pickle cache, the `vault` program and a vault opened for a bench."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from support import require_module

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import _common  # noqa: E402

CHILD = """
import sys, time
t = time.process_time()
while time.process_time() - t < 0.2:  # some CPU time for wait4 to count
    pass
data = bytearray(64 << 20)  # 64 MB touched: the peak RSS must see them
for i in range(0, len(data), 4096):
    data[i] = 1
time.sleep(0.6)  # held across a few of the tree's memory samples (every 0.2 s)
print("out", sys.argv[1]); print("err", file=sys.stderr)
sys.exit(3)
"""


def test_measured_gives_exit_code_output_cpu_and_peak_memory():
    run = _common.measured([sys.executable, "-c", CHILD, "x"], capture_err=True, tree=False)
    assert run.code == 3
    assert run.out == b"out x\n" and run.err == b"err\n"
    assert run.cpu_s >= 0.2 and run.wall_s >= run.cpu_s * 0.5
    assert run.peak_rss_mb >= 64
    assert run.tree_rss_mb == run.tree_pss_mb == 0  # not sampled


def test_measured_samples_the_process_tree():
    require_module("psutil", "sampling the process tree (bench/_common.TreeMemory)")
    run = _common.measured([sys.executable, "-c", CHILD, "y"], capture_err=True)
    assert run.code == 3 and run.tree_rss_mb >= 64 and run.tree_pss_mb > 0


def test_measured_leaves_stderr_alone_unless_asked(capfd):
    run = _common.measured([sys.executable, "-c", "import sys; print('e', file=sys.stderr)"], tree=False)
    assert run.code == 0 and run.err == b"" and "e" in capfd.readouterr().err


def test_measured_runs_the_watch_and_reports_a_signal():
    seen = []

    def watch(proc):
        seen.append(proc.pid)
        proc.kill()

    run = _common.measured([sys.executable, "-c", "import time; time.sleep(30)"], tree=False, watch=watch)
    assert seen and run.code == -9 and run.wall_s < 25


def test_src_env_puts_the_tree_first(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = _common.src_env(tmp_path, HF_HUB_OFFLINE="1")
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tmp_path), "/somewhere"] and env["HF_HUB_OFFLINE"] == "1"
    assert _common.src_env(None) is None
    assert _common.src_env(None, X="1")["PYTHONPATH"] == "/somewhere"  # no tree: the path as it was
    monkeypatch.delenv("PYTHONPATH")
    assert _common.src_env(tmp_path)["PYTHONPATH"] == str(tmp_path)  # no empty entry: that would be the child's cwd
    assert _common.src_env(tmp_path, base={"A": "1", "PYTHONPATH": "/x"}) == {
        "A": "1", "PYTHONPATH": os.pathsep.join([str(tmp_path), "/x"])}  # another environment than this one's


def test_the_tests_use_the_benches_mechanism(monkeypatch):
    """One way to put a tree first on a child's path: `support.vault_env` is `src_env` of this checkout, and
    `support.VAULT` is `_common.VAULT`."""
    import support

    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    assert support.vault_env({"X": "1"}) == _common.src_env(support.ROOT, HF_HUB_OFFLINE="1", X="1")
    assert support.VAULT == _common.VAULT


def test_offline_one_thread_keeps_what_is_set(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    _common.offline_one_thread()
    assert os.environ["OMP_NUM_THREADS"] == "4" and os.environ["MKL_NUM_THREADS"] == "1"
    assert os.environ["HF_HUB_OFFLINE"] == "1" and "TOKENIZERS_PARALLELISM" not in os.environ
    _common.offline_one_thread(tokenizers=True)
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"


def test_cached_builds_once_per_key(tmp_path):
    src = tmp_path / "labels.jsonl"
    src.write_text("a\n")
    cache = tmp_path / "c.pickle"
    calls = []

    def build():
        calls.append(1)
        return {"n": len(calls)}

    key = _common.content_key([src])
    assert _common.cached(cache, key, build) == {"n": 1}
    assert _common.cached(cache, key, build) == {"n": 1} and len(calls) == 1  # read back
    src.write_text("b\n")
    key2 = _common.content_key([src])
    assert key2 != key
    assert _common.cached(cache, key2, build) == {"n": 2}  # the files changed: built again, kept
    assert _common.cached(cache, key2, build) == {"n": 2} and len(calls) == 2
    assert _common.cached(None, key2, build) == {"n": 3}  # no cache: built every time


@pytest.fixture
def old_vault(tmp_path, monkeypatch):
    """A vault written before the last migration: a read-only open refuses it (VaultNeedsMigrationError)."""
    from vault import migrations, schema, store

    path = tmp_path / "old.duckdb"
    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", migrations.MIGRATIONS[:-1])
        store.open_vault(path).close()
    assert store.needed_migrations(path) == [migrations.MIGRATIONS[-1][0]]
    return path


def test_open_bench_vault_says_to_migrate_in_one_line_and_leaves_the_vault(old_vault):
    from vault.store import needed_migrations

    before = old_vault.read_bytes()
    with pytest.raises(SystemExit) as e:
        _common.open_bench_vault(old_vault)
    assert isinstance(e.value.code, str) and "\n" not in e.value.code
    assert f"run `vault migrate` on it (`vault --db {old_vault} migrate`" in e.value.code
    assert old_vault.read_bytes() == before and needed_migrations(old_vault)  # read-only: not upgraded


def test_open_bench_vault_opens_a_current_vault(tmp_path):
    from vault.store import open_vault

    open_vault(tmp_path / "v.duckdb").close()
    con = _common.open_bench_vault(tmp_path / "v.duckdb")
    try:
        assert con.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    finally:
        con.close()


def test_a_bench_on_an_old_vault_ends_with_one_line_not_a_traceback(old_vault):
    """As a bench script runs it: exit code 1 and the one line on stderr."""
    import subprocess

    bench = Path(_common.__file__).parent
    res = subprocess.run([sys.executable, "-c", "import sys, _common; _common.open_bench_vault(sys.argv[1])",
                          str(old_vault)], cwd=bench, capture_output=True, text=True, timeout=120,
                         env=_common.src_env(bench.parent))
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "run `vault migrate`" in res.stderr and "Traceback" not in res.stderr


def test_vault_runs_this_checkouts_program(tmp_path):
    """_common.VAULT is the `vault` program of the tree first on the child's path (here this checkout's)."""
    import subprocess

    root = Path(_common.__file__).resolve().parent.parent
    res = subprocess.run([*_common.VAULT, "--db", str(tmp_path / "v.duckdb"), "--help"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env=_common.src_env(root))
    assert res.returncode == 0 and "Usage: vault" in res.stdout, res.stderr


def test_mb_is_mebibytes_to_a_tenth():
    assert _common.mb(7 * _common.MB // 2) == 3.5 and _common.mb(0) == 0.0


def test_fresh_vault_removes_the_file_and_its_wal_and_is_the_one_way_benches_do(tmp_path):
    import re

    db = tmp_path / "v.duckdb"
    db.write_bytes(b"x")
    Path(f"{db}.wal").write_bytes(b"w")
    assert _common.fresh_vault(db) == db and not db.exists() and not Path(f"{db}.wal").exists()
    assert _common.fresh_vault(db) == db  # nothing there: fine
    # Copy-paste found by `duplicates`: five benches removed a vault and its WAL with a loop of their own.
    by_hand = re.compile(r"for \w+ in \((\w+), Path\(f\"\{\1\}\.wal\"\)\):\n\s+\w+\.unlink\(missing_ok=True\)")
    bench = Path(_common.__file__).parent
    assert [p.name for p in sorted(bench.glob("*.py")) if p.name != "_common.py" and by_hand.search(p.read_text())] == []
