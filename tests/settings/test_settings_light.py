"""The vault path without loading the settings (vault.settings_light): the same answer as `load()`, or none."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, run_cli
from vault.settings import load
from vault.settings_light import quick_db_path


@pytest.mark.parametrize("flag_db", [None, "~/flag.duckdb", "rel/flag.duckdb"])
@pytest.mark.parametrize("env_db", [None, "~/env.duckdb"])
@pytest.mark.parametrize("own_home", [False, True])
def test_same_path_and_origin_as_the_settings(tmp_path, monkeypatch, flag_db, env_db, own_home):
    if own_home:
        monkeypatch.setenv("VAULT_HOME", "~/some-home")
        monkeypatch.setenv("HOME", str(tmp_path))  # `~` expands into the test's folder
    if env_db:
        monkeypatch.setenv("VAULT_DB", env_db)
    flags = {"db": ("--db", flag_db), "config": ("--config", None)}
    full = load(flags)
    assert quick_db_path(flags) == (full.db, full.origin("db").kind)


@pytest.mark.parametrize("case", ["config file", "VAULT_CONFIG", "--config", "another variable", "empty VAULT_DB"])
def test_anything_to_validate_means_no_shortcut(_isolated_home, tmp_path, monkeypatch, case):
    flags = {"db": ("--db", str(tmp_path / "v.duckdb")), "config": ("--config", None)}
    if case == "config file":
        (_isolated_home / "config.toml").write_text("")
    elif case == "VAULT_CONFIG":
        monkeypatch.setenv("VAULT_CONFIG", str(tmp_path / "c.toml"))
    elif case == "--config":
        flags["config"] = ("--config", str(tmp_path / "c.toml"))
    elif case == "another variable":
        monkeypatch.setenv("VAULT_SEARCH_HYBRID_WAIT", "1")
    else:
        monkeypatch.setenv("VAULT_DB", "")
    assert quick_db_path(flags) is None


def test_a_bad_config_file_still_stops_a_keyword_search(_isolated_home, tmp_path):
    db = tmp_path / "v.duckdb"
    code, _, err = run_cli("ingest", "--no-embed", str(ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout"),
                           db=db)
    assert code == 0, err
    (_isolated_home / "config.toml").write_text("[search]\nhybrid_wait = 'soon'\n")
    code, out, err = run_cli("search", "--mode", "keyword", "--json", "review", db=db)
    assert code == 2 and "config.toml: [search] hybrid_wait" in err and out == ""


def test_keyword_search_json_loads_neither_pydantic_nor_rich(_isolated_home, tmp_path):
    """Cold keyword search: the settings' validation (pydantic) and the terminal renderer (rich) stay unloaded."""
    db = str(tmp_path / "v.duckdb")
    fixture = str(ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout")
    code, _, err = run_cli("ingest", "--no-embed", fixture, db=tmp_path / "v.duckdb")
    assert code == 0, err
    src = (f"import sys; from vault.cli import main\n"
           f"try: main(['--db', {db!r}, 'search', '--mode', 'keyword', '--json', 'review', 'diff'])\n"
           f"except SystemExit: pass\n"
           f"print('LOADED', sorted(m for m in ('pydantic', 'pydantic_settings', 'rich') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", src], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    hits, loaded = res.stdout.rsplit("LOADED ", 1)
    assert json.loads(hits) and loaded.strip() == "[]"


def test_ingest_json_loads_neither_pandas_pydantic_nor_rich(_isolated_home, tmp_path):
    """`vault ingest --no-embed --json`, first and unchanged: the settings' validation (pydantic), the terminal
    renderer (rich) and pandas (DuckDB's probe, vault.lightquery) stay unloaded."""
    db = str(tmp_path / "v.duckdb")
    fixture = str(ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout")
    src = (f"import sys; from vault.cli import main\n"
           f"try: main(['--db', {db!r}, 'ingest', '--no-embed', '--json', {fixture!r}])\n"
           f"except SystemExit: pass\n"
           f"print('LOADED', sorted(m for m in ('pydantic', 'pydantic_settings', 'rich', 'pandas', 'numpy')"
           f" if m in sys.modules))")
    reports = []
    for allowed in (["numpy"], []):  # pyarrow, which writing uses, loads numpy; an unchanged run writes nothing
        res = subprocess.run([sys.executable, "-c", src], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        out, loaded = res.stdout.rsplit("LOADED ", 1)
        assert set(ast.literal_eval(loaded.strip())) <= set(allowed), loaded
        reports.append(json.loads(out))
    assert reports[0]["files"] > 0 and reports[0]["messages_added"] > 0
    assert reports[1]["files"] == 0 and reports[1]["files_unchanged"] == reports[0]["files"]
    assert reports[1]["messages_added"] == 0 and "index" not in reports[1]  # nothing rebuilt either


@pytest.mark.parametrize("env", [
    {"HOME": "/home/a"}, {"HOME": "/home/a/"}, {"HOME": "/"}, {"HOME": "relative"}, {},
    {"HOME": "/home/a", "XDG_DATA_HOME": "/data/x"}, {"HOME": "/home/a", "XDG_DATA_HOME": "/data/x/"},
    {"HOME": "/home/a", "XDG_DATA_HOME": "relative/x"}, {"HOME": "/home/a", "XDG_DATA_HOME": ""},
    {"HOME": "/home/a", "XDG_DATA_HOME": "~/x"},
])
def test_the_data_folder_without_platformdirs_is_platformdirs_one(env):
    """vault.paths answers the usual Linux cases without importing platformdirs (5 ms of every command): the same
    folder as platformdirs gives, in a fresh process with only `env`; elsewhere it asks platformdirs."""
    code = ("import json, sys, platformdirs; from vault import paths; "
            "print(json.dumps([paths._linux_data_dir(), platformdirs.user_data_dir('vault', appauthor=False), "
            "str(paths.user_data_dir()), sys.platform]))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={"PATH": "/usr/bin:/bin", **env})
    assert res.returncode == 0, res.stderr[-2000:]  # a child that failed is a failure, not "not Linux"
    ours, theirs, used, platform = json.loads(res.stdout)
    if platform != "linux":
        pytest.skip(f"the shortcut is for Linux ({platform})")
    assert used == str(Path(theirs))
    if env.get("HOME", "").startswith("/"):
        assert ours == theirs  # the shortcut answered
