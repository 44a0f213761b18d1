"""Editing Claude Code's settings.json: other keys and hooks kept, backup, invalid files refused, idempotent,
uninstall removes exactly what install added; and the hook run's answers (exit codes, output)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, VAULT, vault_env
from vault.hooks.accept import session_files
from vault.hooks.claude_settings import HookSettingsError
from vault.hooks.command import db_of_command, is_ours
from vault.hooks.install import EVENTS, OPTIONAL_EVENTS, install, installed, uninstall
from vault.hooks.pending import list_pending, read_runs, record_run, wait_for_run

CMD = "/opt/vault/bin/vault --db /data/v.duckdb ingest --hook"


def settings_file(tmp_path: Path, text: str | None) -> Path:
    p = tmp_path / "settings.json"
    if text is not None:
        p.write_text(text, encoding="utf-8")
    return p


def test_install_keeps_everything_else_and_is_idempotent(tmp_path):
    p = settings_file(tmp_path, json.dumps({"env": {"A": "1"}, "hooks": {"SessionEnd": [
        {"matcher": "clear", "hooks": [{"type": "command", "command": "mine"}]}]}}, indent=2) + "\n")
    ch = install(p, CMD)
    assert ch.added == ["SessionEnd", "PreCompact"] and ch.backup is not None
    data = json.loads(p.read_text())
    assert data["env"] == {"A": "1"}
    assert data["hooks"]["SessionEnd"][0] == {"matcher": "clear", "hooks": [{"type": "command", "command": "mine"}]}
    assert data["hooks"]["SessionEnd"][1] == {"hooks": [{"type": "command", "command": CMD}]}
    once = p.read_bytes()
    ch = install(p, CMD)
    assert ch.added == [] and ch.unchanged == ["SessionEnd", "PreCompact"]
    assert p.read_bytes() == once


@pytest.mark.parametrize("text, where", [
    ('{"hooks": {"Stop": [}', "settings.json:1:"),
    ('{\n  "a": 1,\n  "b": 2,,\n}', "settings.json:3:"),
    ("[1, 2]", "expected a JSON object"),
    ('{"hooks": []}', '"hooks" should be an object'),
    ('{"hooks": {"Stop": {}}}', "hooks.Stop should be a list"),
])
def test_an_invalid_file_is_refused_and_left_alone(tmp_path, text, where):
    p = settings_file(tmp_path, text)
    with pytest.raises(HookSettingsError, match="nothing was changed") as e:
        install(p, CMD)
    assert where in str(e.value) and str(p) in str(e.value)
    assert p.read_text() == text
    assert not (tmp_path / "settings.json.vault-backup").exists()


def test_uninstall_after_the_user_edited_keeps_their_edit(tmp_path):
    p = settings_file(tmp_path, '{\n\t"model": "opus"\n}\n')
    install(p, CMD, EVENTS + OPTIONAL_EVENTS)
    data = json.loads(p.read_text())
    data["hooks"]["Stop"].append({"hooks": [{"type": "command", "command": "theirs"}]})
    data["theme"] = "dark"
    p.write_text(json.dumps(data, indent="\t") + "\n")
    ch = uninstall(p)
    assert ch.removed == ["PreCompact", "SessionEnd", "Stop"] and not ch.restored
    assert json.loads(p.read_text()) == {"model": "opus", "hooks": {"Stop": [
        {"hooks": [{"type": "command", "command": "theirs"}]}]}, "theme": "dark"}
    assert p.read_text().startswith('{\n\t"model"')  # the file's own indentation


def test_install_into_a_missing_file_and_back(tmp_path):
    p = settings_file(tmp_path, None)
    install(p, CMD)
    assert installed(json.loads(p.read_text())) == {"SessionEnd": [CMD], "PreCompact": [CMD]}
    assert uninstall(p).restored
    assert not p.exists()


def test_a_second_install_elsewhere_repoints_ours_and_uninstall_still_restores(tmp_path):
    original = '{"model": "opus"}'
    p = settings_file(tmp_path, original)
    install(p, CMD)
    other = CMD.replace("/data/v.duckdb", "/data/w.duckdb")
    ch = install(p, other, EVENTS + OPTIONAL_EVENTS)
    assert ch.added == ["SessionEnd", "PreCompact", "Stop"]
    assert installed(json.loads(p.read_text())) == {e: [other] for e in ("SessionEnd", "PreCompact", "Stop")}
    uninstall(p)
    assert p.read_text() == original


def test_the_db_of_an_installed_command():
    assert db_of_command(CMD) == Path("/data/v.duckdb")
    assert db_of_command("vault ingest --hook") is None


def test_subagent_files_of_both_layouts(tmp_path):
    sid = "11111111-1111-4111-8111-111111111111"
    main = tmp_path / f"{sid}.jsonl"
    main.write_text("{}\n")
    (tmp_path / sid / "subagents").mkdir(parents=True)
    (tmp_path / sid / "subagents" / "agent-a1.jsonl").write_text("{}\n")
    (tmp_path / "agent-b2.jsonl").write_text(json.dumps({"sessionId": sid}) + "\n")
    (tmp_path / "agent-c3.jsonl").write_text(json.dumps({"sessionId": "another"}) + "\n")
    assert session_files(main) == [main, tmp_path / sid / "subagents" / "agent-a1.jsonl",
                                         tmp_path / "agent-b2.jsonl"]


def run_hook(tmp_path: Path, stdin: bytes, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*VAULT, "--db", str(tmp_path / "v.duckdb"), "ingest", "--hook", *extra], input=stdin,
                          capture_output=True, cwd=tmp_path, env=vault_env(), timeout=120)


@pytest.mark.parametrize("stdin, message", [
    (b"not json", "stdin is not the hook's JSON"),
    (b'{"session_id": "x"}', "no transcript_path"),
    (b"[]", "not a JSON object"),
])
def test_bad_hook_input_is_one_line_and_exit_1_never_2(tmp_path, stdin, message):
    res = run_hook(tmp_path, stdin)
    assert res.returncode == 1  # a non-blocking error for Claude Code; 2 would block compaction or stopping
    err = res.stderr.decode()
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert res.stdout == b""


def test_a_background_failure_is_told_once_by_the_next_run(tmp_path):
    db = tmp_path / "v.duckdb"
    record_run(db, "error", "cannot open the vault: disk full", 0.1)
    good = json.dumps({"transcript_path": str(tmp_path / "gone.jsonl"), "hook_event_name": "Stop"}).encode()
    res = run_hook(tmp_path, good, "--wait")
    assert res.returncode == 1 and b"disk full" in res.stderr and res.stderr.count(b"\n") == 1
    res = run_hook(tmp_path, good, "--wait")
    assert (res.returncode, res.stdout, res.stderr) == (0, b"", b"")
    assert read_runs(db)["Stop"]["result"] == "0 new messages from 0 files, 1 pending file gone"


def test_the_quick_half_loads_neither_duckdb_nor_the_settings(tmp_path):
    """What Claude Code waits for stays light: no DuckDB, no pydantic-settings, no ingest code."""
    transcript = tmp_path / "s.jsonl"
    transcript.write_text("{}\n")
    probe = ("import atexit, sys; atexit.register(lambda: sys.stderr.write(repr(sorted(m for m in "
             "('duckdb', 'pydantic_settings', 'vault.ingest', 'vault.settings', 'pyarrow') if m in sys.modules)))); "
             "from vault.cli import main; main()")
    res = subprocess.run([sys.executable, "-c", probe, "--db", str(tmp_path / "v.duckdb"), "ingest", "--hook"],
                         input=json.dumps({"transcript_path": str(transcript)}).encode(), capture_output=True,
                         cwd=tmp_path, env=vault_env(), timeout=60)
    assert res.returncode == 0 and res.stderr == b"[]", res.stderr
    # The work is queued or done. The detached worker may have taken the queue entry and not yet logged its run
    # (a loaded machine: seen once on a bare clone), so wait for one of the two rather than look once.
    db, deadline = tmp_path / "v.duckdb", time.monotonic() + 60
    while not (list_pending(db) or read_runs(db)):
        assert time.monotonic() < deadline, "the hook's work was neither queued nor run within 60 s"
        time.sleep(0.1)


def test_a_symlinked_settings_file_stays_a_link(tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "claude-settings.json"
    real.write_text('{"model": "opus"}\n')
    link = tmp_path / "settings.json"
    link.symlink_to(real)
    install(link, CMD)
    assert link.is_symlink() and installed(json.loads(real.read_text()))
    uninstall(link)
    assert link.is_symlink() and real.read_text() == '{"model": "opus"}\n'


def test_someone_elses_ingest_hook_is_not_ours():
    assert not is_ours({"type": "command", "command": "otherlog ingest --hook"})
    assert is_ours({"type": "command", "command": CMD})
    assert not is_ours({"type": "prompt", "prompt": CMD})


def test_wait_for_run_returns_the_run_logged_after_the_time_given_and_else_times_out(tmp_path):
    db = tmp_path / "v.duckdb"
    record_run(db, "SessionEnd", "1 new message", 0.5)
    at = read_runs(db)["SessionEnd"]["at"]
    assert wait_for_run(db, "SessionEnd", at, timeout=0)["result"] == "1 new message"
    with pytest.raises(TimeoutError, match="no SessionEnd run logged at or after 9999"):
        wait_for_run(db, "SessionEnd", "9999-01-01T00:00:00+00:00", timeout=0.2)
    with pytest.raises(TimeoutError):
        wait_for_run(db, "PreCompact", at, timeout=0.2)


def test_the_hook_runs_the_installed_program_else_this_tree_by_path(tmp_path, monkeypatch):
    """What a person expects: the `vault` they installed (its console script, by absolute path: Claude Code's PATH may
    not hold the virtualenv), so an upgrade is what the next hook runs; from a source tree with no script, this
    interpreter with this tree first on its path (the hook sees neither their PYTHONPATH nor their cwd)."""
    import vault.hooks.command as command

    bin_dir = tmp_path / "venv bin"
    bin_dir.mkdir()
    monkeypatch.setattr(command.sys, "executable", str(bin_dir / "python"))
    db = tmp_path / "v.duckdb"
    fallback = command.hook_command(db)
    assert shlex.split(fallback) == ["env", f"PYTHONPATH={ROOT}", str(bin_dir / "python"), "-P", "-m", "vault.cli",
                                     "--db", str(db.resolve()), "ingest", "--hook"]
    (bin_dir / "vault").write_text("#!/bin/sh\n")
    installed_cmd = command.hook_command(db)
    assert shlex.split(installed_cmd) == [str(bin_dir / "vault"), "--db", str(db.resolve()), "ingest", "--hook"]
    assert is_ours({"type": "command", "command": fallback}) and is_ours({"type": "command", "command": installed_cmd})
    assert db_of_command(fallback) == db_of_command(installed_cmd) == db.resolve()
