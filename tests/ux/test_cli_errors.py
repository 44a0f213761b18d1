"""Issue 17: what a newcomer types gets one clear line, never a traceback."""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys

import pytest

from support import run_cli
from vault.when import BadTimeError, parse_when

NOW = _dt.datetime(2026, 3, 10, 15, 30, tzinfo=_dt.UTC)


@pytest.mark.parametrize("text, expected", [
    ("2026-01-31", _dt.datetime(2026, 1, 31)),
    ("2026-01-31T14:30", _dt.datetime(2026, 1, 31, 14, 30)),
    ("2026-01-31 14:30:05", _dt.datetime(2026, 1, 31, 14, 30, 5)),
    ("2026-01-31T14:30+02:00", _dt.datetime(2026, 1, 31, 12, 30)),
    ("7d", NOW.replace(tzinfo=None) - _dt.timedelta(days=7)),
    ("2w", NOW.replace(tzinfo=None) - _dt.timedelta(weeks=2)),
    ("12h", NOW.replace(tzinfo=None) - _dt.timedelta(hours=12)),
    ("3 days ago", NOW.replace(tzinfo=None) - _dt.timedelta(days=3)),
    ("1 Week Ago", NOW.replace(tzinfo=None) - _dt.timedelta(weeks=1)),
])
def test_since_reads_what_people_type(text, expected):
    assert parse_when(text, now=NOW) == expected


def test_day_words_are_local_days_and_until_includes_the_day(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    try:
        assert parse_when("today", now=NOW) == _dt.datetime(2026, 3, 10)
        assert parse_when("yesterday", now=NOW) == _dt.datetime(2026, 3, 9)
        assert parse_when("yesterday", end=True, now=NOW) == _dt.datetime(2026, 3, 9, 23, 59, 59, 999999)
        assert parse_when("2026-01-31", end=True, now=NOW) == _dt.datetime(2026, 1, 31, 23, 59, 59, 999999)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("text", ["last tuesday", "7 fortnights", "2026-13-01", "", "d7"])
def test_unreadable_times_name_the_accepted_forms(text):
    with pytest.raises(BadTimeError, match=r"today, yesterday.*'3 days ago'"):
        parse_when(text, now=NOW)


@pytest.mark.parametrize("cmd", [["sessions"], ["search", "refunds", "--mode", "keyword"]])
@pytest.mark.parametrize("since", ["yesterday", "today", "7d", "2w", "3 days ago", "2020-01-01", "2020-01-01T10:00"])
def test_since_on_the_cli(ex_db, cmd, since):
    code, out, err = run_cli(*cmd, "--since", since, "--until", "today", db=ex_db)
    assert code == 0, err


@pytest.mark.parametrize("cmd", [["sessions"], ["search", "refunds"]])
@pytest.mark.parametrize("opt", ["--since", "--until"])
def test_bad_since_is_one_line(ex_db, cmd, opt):
    code, out, err = run_cli(*cmd, opt, "last tuesday", db=ex_db)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert opt in lines[0] and "'last tuesday'" in lines[0] and "3 days ago" in lines[0]


def test_since_filters_the_sessions(ex_db):
    code, out, _ = run_cli("sessions", "--json", "--since", "2020-01-01", db=ex_db)
    import json

    every = json.loads(out)
    assert every
    # every example session ended before today, so `--since today` keeps none of them
    last_end = max(r["ended_at"] for r in every)
    assert last_end < _dt.datetime.now(_dt.UTC).replace(tzinfo=None).isoformat()
    assert json.loads(run_cli("sessions", "--json", "--since", "today", db=ex_db)[1]) == []
    assert len(json.loads(run_cli("sessions", "--json", "--until", "today", db=ex_db)[1])) == len(every)


def test_show_an_ambiguous_prefix_lists_the_candidates(ex_db):
    code, out, err = run_cli("show", "5", db=ex_db)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "'5' is the start of 2 sessions" in lines[0]
    assert "555611a7-9a80-5b04-aebf-5d70ffb83f79" in lines[0] and "5a9e3387-62a0-533b-af81-d339eeee1322" in lines[0]
    code, out, _ = run_cli("show", "55", db=ex_db)
    assert code == 0 and "555611a7" in out


def test_show_a_session_and_its_own_subagent_is_not_ambiguous(ex_db):
    code, out, err = run_cli("show", "d207", db=ex_db)
    assert code == 0, err
    assert "d207a4c9-aebe-56e8-ba0a-be3c5ebf9fba" in out


def test_show_at_an_unknown_message_is_an_error(ex_db):
    code, out, err = run_cli("show", "43dd531a", "--at", "nosuchmsg", db=ex_db)
    assert code == 2 and out == ""
    assert "--at: no message 'nosuchmsg' in session 43dd531a" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("cmd", [["stats"], ["sessions"], ["show", "x"], ["search", "x"], ["mine"], ["turns"],
                                 ["pairs"], ["personas"], ["roles"], ["embed"],
                                 ["export", "--format", "trl", "--out", "OUT"], ["eval", "LABELS"]])
def test_commands_on_a_missing_vault_say_so_and_create_nothing(tmp_path, cmd):
    db = tmp_path / "typo" / "x.duckdb"
    (tmp_path / "labels.jsonl").write_text("")
    cmd = [{"OUT": str(tmp_path / "out"), "LABELS": str(tmp_path / "labels.jsonl")}.get(a, a) for a in cmd]
    code, out, err = run_cli(*cmd, db=db)
    assert code == 2, (out, err)
    assert f"no vault at {db}" in err and "vault ingest" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "typo").exists()


def test_ingest_still_creates_the_vault(tmp_path):
    db = tmp_path / "new" / "v.duckdb"
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("ingest", "--no-embed", str(tmp_path / "empty"), db=db)
    assert code == 0, err
    assert db.exists()


def test_ingest_of_paths_that_do_not_exist_is_an_error_and_creates_nothing(tmp_path):
    db = tmp_path / "new" / "v.duckdb"
    code, out, err = run_cli("ingest", "--no-embed", str(tmp_path / "nothing-here"), db=db)
    assert code == 2 and "nothing to ingest" in err and "nothing-here" in err and "Traceback" not in err
    assert not db.exists()


def test_train_without_accelerate_names_the_extra():
    from support import ROOT

    script = ("import sys\n"
              "class Missing:\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name.split('.')[0] == 'accelerate':\n"
              "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
              "sys.meta_path.insert(0, Missing())\n"
              "from vault.cli import main\nmain(sys.argv[1:])\n")
    res = subprocess.run([sys.executable, "-c", script, "train"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'vault[train]'" in lines[0] and "accelerate" in lines[0]


def test_an_unexpected_error_is_one_line_unless_debugging(monkeypatch, capsys):
    from vault import cli as vault_cli
    from vault.cli import archive

    def boom(*a, **k):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr("vault.queries.stats", boom)
    monkeypatch.setattr(archive, "open_db", _fake_open_db)
    with pytest.raises(SystemExit) as e:
        vault_cli.main(["stats"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "internal error: RuntimeError: something broke" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        vault_cli.main(["--debug", "stats"])
    monkeypatch.setenv("VAULT_DEBUG", "1")
    monkeypatch.setattr(vault_cli, "_debug", False)
    with pytest.raises(RuntimeError):
        vault_cli.main(["stats"])


def _fake_open_db(ctx, **kw):
    import contextlib

    return contextlib.nullcontext(None)


@pytest.mark.parametrize("out", ["", "PROJECT"])
def test_export_never_overwrites_a_folder_that_is_not_an_export(ex_db, tmp_path, monkeypatch, out):
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# my project\n")
    monkeypatch.chdir(project)  # `--out ""` once wrote the dataset over the README of the current folder
    code, _, err = run_cli("export", "--format", "trl", "--out", str(project) if out else "", db=ex_db)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--out" in err
    assert (project / "README.md").read_text() == "# my project\n"
    assert sorted(p.name for p in project.iterdir()) == ["README.md"]


def test_export_may_refresh_its_own_folder(ex_db, tmp_path):
    out = tmp_path / "export"
    for _ in range(2):
        code, _, err = run_cli("export", "--format", "trl", "--out", str(out), db=ex_db)
        assert code == 0, err
